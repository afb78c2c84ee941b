"""Direct identifiers: the one place that decides whether a text looks like one (DESIGN section 3).

A batch holding anything shaped like a direct identifier — in a value, a column name or ``batch.toml`` — is rejected
whole, and no message, log or ledger row ever repeats such a text. The exact boundary (also stated in
docs/data-contract.md):

- **e-mail addresses** (``name@domain.tld``) and **URLs** (``http://``, ``https://``, ``ftp://``, ``www.``);
- **US social security numbers** written with dashes or spaces (``123-45-6789``, ``123 45 6789``);
- **phone numbers written with ``+``** (7 to 15 digits, optionally separated by spaces, dots, dashes or
  parentheses) that `phonenumbers` considers a possible number, in any region;
- **North-American numbers** with separators: ``(555) 123-4567``, ``555-123-4567``, ``555.123.4567``,
  ``555 123 4567``;
- **national formats** of the regions in the setting ``identifiers.phone_regions`` (default US and GB): a value made
  only of digits and separators, with at least one separator and 7 to 15 digits, that `phonenumbers` reads as a
  *valid* (assigned) number of that region — e.g. ``020 7946 0958`` with GB.

Never identifiers: bare digit strings (``5551234567`` is a valid pseudonym), plain decimal numbers (``-1.25``),
ISO and day-month-year dates (``2026-10-31``, ``31.10.2026``), and any value containing a letter other than in an
e-mail address or URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import phonenumbers
import polars as pl

#: Kinds of identifier, as named in messages (counts only, never the values).
EMAIL = "e-mail addresses"
URL = "URLs"
SSN = "US social security numbers"
PHONE = "formatted phone numbers"

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_URL = r"(?i)\b(?:https?://|ftp://|www\.)"
_SSN = r"^\d{3}[- ]\d{2}[- ]\d{4}$"
_NANP = r"^(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s*|\d{3}[\s.-])\d{3}[\s.-]\d{4}$"
#: A value that might be a phone number: digits and separators only (or a leading +), at least 7 digits.
_PHONE_SHAPED = r"^\+?[\d\s().-]*$"
_DIGITS_7 = r"(?:\d[\s().-]*){7,}"
_DECIMAL = r"^-?\d+(?:\.\d+)?$"
_DATE = r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$"
#: Cheap regular expressions that decide on their own (no library call needed).
REGEX_KINDS: dict[str, str] = {EMAIL: _EMAIL, URL: _URL, SSN: _SSN, PHONE: _NANP}
#: Any of the kinds, or a text worth a closer look by `phonenumbers`.
_SUSPECT = "|".join(f"(?:{p})" for p in (*REGEX_KINDS.values(), _PHONE_SHAPED))

DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB")


def _phone_candidate(text: str) -> bool:
    """Digits and separators only, 7-15 digits, not a plain number or a date; a '+' number needs no separator."""
    if not re.fullmatch(_PHONE_SHAPED, text) or re.fullmatch(_DECIMAL, text) or re.fullmatch(_DATE, text):
        return False
    digits = sum(ch.isdigit() for ch in text)
    if not 7 <= digits <= 15:
        return False
    return text.startswith("+") or any(not ch.isdigit() for ch in text)


@lru_cache(maxsize=65536)
def _is_phone(text: str, regions: tuple[str, ...]) -> bool:
    if not _phone_candidate(text):
        return False
    if text.startswith("+"):
        try:
            return phonenumbers.is_possible_number(phonenumbers.parse(text, None))
        except phonenumbers.NumberParseException:
            return False
    for region in regions:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def kind_of(text: str | None, regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> str | None:
    """The kind of direct identifier ``text`` looks like, or None."""
    if text is None:
        return None
    value = text.strip()
    for kind, pattern in REGEX_KINDS.items():
        if re.search(pattern, value):
            return kind
    return PHONE if _is_phone(value, tuple(regions)) else None


def count_by_column(
    frame: pl.DataFrame, columns: Iterable[str], regions: Sequence[str] = DEFAULT_PHONE_REGIONS
) -> list[tuple[str, str, int]]:
    """(column, kind, number of values) for every column of ``frame`` holding identifier-shaped text.

    One vectorised pass finds the few suspect values; only their distinct texts are judged one by one, so the
    cost does not grow with clean data (measured: the combined pattern over 25M answers is the whole cost).
    """
    columns = [c for c in columns if c in frame.columns]
    if not columns or frame.height == 0:
        return []
    text = frame.select(pl.col(c).cast(pl.String).str.strip_chars() for c in columns)
    suspect = text.select(pl.col(c).str.contains(_SUSPECT).fill_null(False).any() for c in columns).row(0)
    found: list[tuple[str, str, int]] = []
    for column, any_suspect in zip(columns, suspect, strict=True):
        if not any_suspect:
            continue
        counts = text.filter(pl.col(column).str.contains(_SUSPECT).fill_null(False)).group_by(column).len().iter_rows()
        per_kind: dict[str, int] = {}
        for value, n in counts:
            kind = kind_of(value, regions)
            if kind is not None:
                per_kind[kind] = per_kind.get(kind, 0) + n
        found += [(column, kind, n) for kind, n in per_kind.items()]
    return found


def redact(text: str, regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> str:
    """``text`` with every identifier-shaped word or run replaced by ``[redacted]`` (for logs and the ledger).

    Defence in depth: messages are written never to hold input values, but a library's exception text could.
    """
    out = re.sub(_EMAIL, "[redacted]", text)
    out = re.sub(r"(?i)\b(?:https?://|ftp://|www\.)\S+", "[redacted]", out)
    out = re.sub(
        r"\+?\(?\d[\d\s().-]{5,}\d", lambda m: "[redacted]" if kind_of(m.group(0), regions) else m.group(0), out
    )
    return out


#: A column name is echoed in a message only when it reads like a column name, never like data.
_SAFE_COLUMN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def shown_name(name: str, regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> str:
    """How a column name from an input file is shown in a message: quoted when it looks like a name, else
    described (a headerless export puts its first row of data where the names should be)."""
    if _SAFE_COLUMN_NAME.match(name) and kind_of(name, regions) is None:
        return f"column '{name}'"
    return f"a column name of {len(name)} characters (not shown: it reads like data, not like a name)"
