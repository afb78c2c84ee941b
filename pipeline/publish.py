"""Publish: disclose, validate against the published-table models, and write atomically (DESIGN 6, 7).

- ``<home>/published/clinical.duckdb`` — client-level indicators (pseudonymous) for clinicians' own caseloads;
- ``<home>/published/aggregate.duckdb`` — aggregates only, protected together by `protect_publication` with the
  layout each mart declares (`pipeline/marts/`) and the links between them (`marts.LINKS`);
- ``<home>/published/internal.duckdb`` — the same aggregates without disclosure control (clinical mode only).

The numbers themselves are computed by the marts (`pipeline.marts.build_all`); this module decides nothing about
them. All three files are built under a temporary name and renamed into place, each with a `publication` row saying
what it reflects (`stages.bring_up_to_date` compares it with the warehouse).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import polars as pl

from pipeline import io
from pipeline.config import PUBLISHED_FILES, Paths
from pipeline.disclosure import DisclosurePolicy, protect_publication
from pipeline.marts import LINKS, MARTS, DerivedMart, Mart
from pipeline.settings import Settings
from schemas.published import PROTECT_COLUMN, validate
from schemas.published import table as published_table


@dataclass(frozen=True)
class Publication:
    clinical: dict[str, pl.DataFrame]
    aggregate: dict[str, pl.DataFrame]
    internal: dict[str, pl.DataFrame]


def disclosure_policy(settings: Settings) -> DisclosurePolicy:
    """The rule in force, from the practice's settings (`[disclosure]`)."""
    d = settings.disclosure
    return DisclosurePolicy(k=d.k, rounding=5 if d.rule == "nhs" else None, protection=d.protection, rule=d.rule)


def publication_meta(
    as_of: dt.date, warehouse_run_id: str, registry_version: str, code_version: str, settings: Settings
) -> pl.DataFrame:
    """The `publication` row of both files: what the numbers were computed from and with."""
    policy = disclosure_policy(settings)
    return pl.DataFrame(
        {"as_of": [as_of], "warehouse_run_id": [warehouse_run_id], "registry_version": [registry_version],
         "code_version": [code_version], "settings_fingerprint": [settings.fingerprint()],
         "settings": [settings.to_json()], "disclosure_k": [policy.k], "disclosure_rule": [policy.describe()]}
    )  # fmt: skip


def disclose(tables: dict[str, pl.DataFrame], meta: pl.DataFrame, settings: Settings) -> Publication:
    """Both files' tables: the aggregate ones protected together by disclosure control (every relation among them
    and the audit, `protect_publication`), every one validated against its model."""
    policy = disclosure_policy(settings)
    layouts = {m.name: m.layout for m in MARTS if isinstance(m, Mart) and m.file == "aggregate" and m.layout}
    protected, audit = protect_publication({n: tables[n] for n in layouts}, layouts, policy, LINKS)
    files: dict[str, dict[str, pl.DataFrame]] = {"clinical": {}, "aggregate": {}, "internal": {}}
    for mart in MARTS:
        if isinstance(mart, DerivedMart):  # from what its sources publish, so after them
            files[mart.file][mart.name] = mart.derive(files[mart.file])
            if mart.file == "aggregate":
                files["internal"][mart.name] = mart.derive(files["internal"])
            continue
        files[mart.file][mart.name] = protected.get(mart.name, tables[mart.name])
        if mart.file == "aggregate":
            files["internal"][mart.name] = _unprotected(mart.name, tables[mart.name])
    meta = meta.with_columns(pl.lit(json.dumps(audit.as_dict(), sort_keys=True)).alias("disclosure_audit"))
    for name, file in files.items():
        file["publication"] = meta
        if name == "internal":
            file["publication"] = meta.with_columns(
                disclosure_rule=pl.lit(INTERNAL_RULE), disclosure_audit=pl.lit(None, pl.String)
            )
    return Publication(**{f: {n: validate(f, n, frame) for n, frame in files[f].items()} for f in files})


#: What the internal file says in place of the rule in force.
INTERNAL_RULE = "none: the practice's internal view with every small number shown — not for sharing"


def _unprotected(name: str, table: pl.DataFrame) -> pl.DataFrame:
    """A table of the internal file: every value as computed, every `_suppressed` false."""
    spec = published_table("internal", name)
    return table.with_columns(
        *(pl.lit(False).alias(f"{c}_suppressed") for c in spec.protected),
        *((pl.lit(None, pl.String).alias(PROTECT_COLUMN),) if spec.protected else ()),
    )


def publish(paths: Paths, publication: Publication) -> list[str]:
    """Write the three files atomically; returns their paths. Each records the warehouse state it reflects, so a
    run interrupted between them republishes all (`stages.bring_up_to_date`)."""
    from pipeline.faults import fault_point

    tables = {"clinical": publication.clinical, "aggregate": publication.aggregate, "internal": publication.internal}
    written = []
    for name in PUBLISHED_FILES:
        io.write_duckdb_atomic(paths.published_file(name), tables[name])
        written.append(str(paths.published_file(name)))
        if name == "clinical":
            fault_point("publish:clinical_written")
    return written
