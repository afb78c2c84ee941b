"""Synthetic practice batches from a latent model of IFS work, with the ground truth that made them.

The model, per client episode:
- a practice and a clinician (caseloads vary: some part-time clinicians see few clients), for in-person work a
  location; a service (therapy / coaching / combined); ~40% are helping professionals with the themes of seed 000
  (burnout, compassion fatigue, secondary trauma, …);
- a free consultation, an intake, then weekly 50-minute sessions with cancellations and no-shows, a few of them
  held by another clinician of the practice (cover); an episode ends as planned (closing session), drops out
  (withdrawn, lost contact, or simply lapses), or is still open at the as-of date; ~10% of consultations never
  lead to an intake;
- a latent IFS stage 1..5 (seed 001: protector trust → exiles → unburdening → protector release →
  self-leadership) that advances session by session, mostly in order; a few clients show sequence deviations
  (exile contact before protector trust, or without permission);
- latent symptom severity (PHQ-9, GAD-7, ProQOL burnout/STS) that falls with stage, and Self (IFS Self Scale,
  8 Cs check-in, ProQOL compassion satisfaction) that rises with it. How much a client improves per stage is
  multiplied by the assigned clinician's planted effect (log-normal across clinicians, a few clearly better or
  worse) and, for telehealth episodes, by a planted fraction;
- item answers drawn around the latent score with noise sized so that each scale's Cronbach's alpha is close to
  its published reliability: with k items and target alpha a, the mean inter-item correlation is
  r = a / (k − a(k − 1)), so the item error variance is var(true item) · (1/r − 1), of which rounding to whole
  answers supplies 1/12. PHQ-9 item 9 (self-harm) sits well below the other items on the same severity: endorsed
  mostly at high severity, by ~15–20% at intake as in outpatient samples, and less often as clients improve.
  The true score the ground truth reports is what the answers average to at the latent state (floors, ceilings
  and item 9's offset included), so the observed mean change estimates it without bias.

Vectorised: the session-by-session walk is drawn from its waiting times (attended sessions until each stage move
and until dropout, missed sessions before each attended one), which is the same process, over all clients of a
chunk at once with numpy. Clients come in chunks of ``CHUNK_CLIENTS``, each drawn from its own generator seeded by
(seed, chunk), sharing one roster of practices and clinicians: the same seed gives the same batch, and a large
batch is written chunk by chunk in bounded memory (``write_batch``). ``ground_truth.json`` records the parameters,
each clinician's planted effect, the planted item-9 prevalence and the true effects, summed chunk by chunk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl
from scipy.special import ndtr

from pipeline import io
from schemas.inputs import AGE_BANDS, GENDERS, PROFESSIONS, TABLES_BY_NAME
from schemas.registry import Instrument, Registry, Scale, default_registry

GROUND_TRUTH_FILE = "ground_truth.json"
TABLE_NAMES = ("clients", "sessions", "measures", "goals")
#: Clients per chunk. Each chunk has its own random stream, so this is part of what a seed means.
CHUNK_CLIENTS = 10_000


@dataclass(frozen=True)
class Params:
    """The latent model's constants; all recorded in ground_truth.json."""

    history_days: int = 730
    service_mix: tuple[float, float, float] = (0.60, 0.25, 0.15)  # therapy, coaching, combined
    helping_professional_rate: float = 0.40
    consultation_only_rate: float = 0.10
    consultation_before_intake_rate: float = 0.80
    telehealth_preference_rate: float = 0.45
    modality_adherence: float = 0.90
    attend_p: float = 0.86
    cancel_p: float = 0.08  # the rest are no-shows
    dropout_hazard: float = 0.03  # per attended session
    planned_sessions: dict[str, tuple[int, int]] = field(
        default_factory=lambda: {"therapy": (12, 36), "coaching": (8, 20), "combined": (12, 30)}
    )
    stage_advance_p: tuple[float, float, float, float] = (0.16, 0.14, 0.13, 0.15)
    deviation_rate: float = 0.06  # clients with a sequence deviation
    no_permission_rate: float = 0.5  # deviating exile contacts made without the protectors' permission
    symptom_reduction_per_stage: float = 0.12  # fraction of baseline severity removed per stage advanced
    telehealth_effect_ratio: float = 0.80  # telehealth improvement as a fraction of in-person improvement
    skip_item_p: float = 0.015
    supplied_total_rate: float = 0.10  # PHQ-9 administrations that also carry a supplied total
    target_alpha_8c: float = 0.90
    risk_item_offset: float = 1.5  # item points a risk item (PHQ-9 item 9) sits below the others on one severity
    mean_caseload: int = 150  # episodes per clinician over the history: sets how many clinicians a practice has
    caseload_spread: float = 0.5  # SD of the log caseload across clinicians
    part_time_rate: float = 0.2  # share of clinicians (exactly, at least one) with a small caseload …
    part_time_load: float = 0.25  # … this fraction of a full one
    clinician_effect_sd: float = 0.15  # SD of the clinicians' log multipliers on improvement
    clinician_outlier_rate: float = 0.05  # share of clinicians planted clearly better, and as many clearly worse
    clinician_outlier_effect: float = 0.5  # their log multiplier: improvement ×1.65 (better) or ×0.61 (worse)
    cover_session_rate: float = 0.04  # sessions held by another clinician of the practice


PRACTICE_COUNT = {True: 5, False: 3}  # large batches (>= 2000 clients) get five practices
MAX_CLINICIANS_PER_PRACTICE = 99  # clinician ids are <practice>-C01 … -C99
HP_THEMES = ["burnout", "compassion_fatigue", "secondary_trauma", "imposter", "caretaking", "attachment"]
OTHER_THEMES = ["anxiety", "depression", "trauma", "relationships", "career", "attachment", "other"]
PROFESSION_P = [0.30, 0.15, 0.10, 0.10, 0.08, 0.12, 0.08, 0.07]
AGE_P = [0.08, 0.28, 0.28, 0.18, 0.12, 0.06]
GENDER_P = [0.64, 0.30, 0.05, 0.01]
SERVICES = ("therapy", "coaching", "combined")
DISCHARGE_REASONS = ("completed", "mutual_agreement", "referred_to_coaching", "referred_to_therapy")
DROPOUT_REASONS = ("client_withdrew", "lost_contact")


# Latent baselines (mean, SD) per scale on the scale's own units, and the direction of change with stage.
@dataclass(frozen=True)
class LatentScale:
    instrument: str
    scale: str
    mean: float
    sd: float
    lower_is_better: bool
    per_stage: float  # for Self scales: rise per stage advanced (scale units)


LATENT = {
    ("phq9", "total"): LatentScale("phq9", "total", 13.0, 5.0, True, 0.0),
    ("gad7", "total"): LatentScale("gad7", "total", 11.0, 4.5, True, 0.0),
    ("proqol5", "burnout"): LatentScale("proqol5", "burnout", 28.0, 5.0, True, 0.0),
    ("proqol5", "secondary_traumatic_stress"): LatentScale(
        "proqol5", "secondary_traumatic_stress", 26.0, 5.5, True, 0.0
    ),
    ("proqol5", "compassion_satisfaction"): LatentScale("proqol5", "compassion_satisfaction", 35.0, 6.0, False, 1.2),
    ("ifs_self", "total"): LatentScale("ifs_self", "total", 25.0, 6.0, False, 2.4),
    ("self_energy_8c", "self_energy"): LatentScale("self_energy_8c", "self_energy", 4.6, 1.5, False, 0.9),
}
SCALE_KEYS = list(LATENT)
COACHING_SEVERITY = 0.6  # coaching clients start with lower symptom severity
#: Fraction of the total Self gain reached at stages 1..5.
SELF_GAIN_BY_STAGE = (0.0, 0.05, 0.15, 0.3, 1.0)
#: Scales whose per-clinician true effect is recorded in the ground truth.
CLINICIAN_SCALES = ("phq9.total", "gad7.total", "ifs_self.total")
_EPOCH = dt.date(1970, 1, 1)
_SLOTS = 256  # session numbers within one client (consultation 0, then each scheduled session) stay below this
_ID_BITS = 44  # a pseudonym is a letter and 11 hex digits: 12 characters, which polars keeps inline


# ---------------------------------------------------------------------------------------------------------------
# Small vectorised helpers


def _pseudonyms(prefix: str, seed: int, numbers: np.ndarray) -> pl.Series:
    """``prefix`` + 11 hex digits from a keyed bijection of 44-bit numbers: distinct numbers never collide."""
    mask = np.uint64((1 << _ID_BITS) - 1)
    key = np.uint64(int(hashlib.sha256(f"{seed}:{prefix}".encode()).hexdigest(), 16) & int(mask))
    x = (numbers.astype(np.uint64) + key) & mask
    for shift, multiplier in ((23, 0x9E3779B97F4B), (19, 0xC2B2AE3D27D5), (21, 0x165667B19E37)):
        x ^= x >> np.uint64(shift)
        x = (x * np.uint64(multiplier)) & mask  # odd multipliers: a bijection modulo 2**44
    x ^= x >> np.uint64(22)
    hexpairs = np.frombuffer(b"".join(f"{b:02x}".encode() for b in range(256)), dtype=np.uint8).reshape(256, 2)
    big_endian = x.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 2:]  # the low 6 bytes: 12 hex digits, first 0
    chars = hexpairs[big_endian].reshape(-1, 12)
    chars[:, 0] = ord(prefix)
    return pl.Series(np.ascontiguousarray(chars).view("S12").ravel()).cast(pl.String)


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, …, count − 1 for each group of ``np.repeat(…, counts)``."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _labels(labels: Sequence[str], codes: np.ndarray, present: np.ndarray | None = None) -> pl.Series:
    """The label of each code; null where ``present`` is false."""
    index = pl.Series(codes.astype(np.uint32))
    if present is not None and not present.all():
        index = index.scatter(np.flatnonzero(~present), None)
    return pl.Series(list(labels), dtype=pl.String).gather(index)


def _column(values: np.ndarray, dtype: type[pl.DataType] | pl.DataType, present: np.ndarray | None = None) -> pl.Series:
    """A typed column from numpy values (dates as days since 1970-01-01); null where ``present`` is false."""
    series = pl.Series(values.astype(np.int32) if dtype == pl.Date else values).cast(dtype)
    if present is not None and not present.all():
        series = series.scatter(np.flatnonzero(~present), None)
    return series


# ---------------------------------------------------------------------------------------------------------------
# The roster: practices and clinicians, shared by every chunk of a batch


@dataclass(frozen=True)
class Roster:
    """Practices and their clinicians (grouped by practice), each with a caseload weight and a planted effect."""

    practices: list[str]
    clinician_ids: list[str]
    practice_of: np.ndarray  # practice index per clinician
    first_of_practice: np.ndarray  # index of each practice's first clinician
    size_of_practice: np.ndarray
    weight: np.ndarray  # probability that an episode is assigned to the clinician
    part_time: np.ndarray
    log_effect: np.ndarray  # log multiplier on the improvement of the clinician's clients
    planted: list[str]  # "better", "worse" or "typical"


def _roster(n_clients: int, seed: int, p: Params) -> Roster:
    """Drawn from its own stream, so every chunk of a batch (and the ground truth) sees the same clinicians."""
    rng = np.random.default_rng([seed, 0])
    n_practices = PRACTICE_COUNT[n_clients >= 2000]
    practice_weights = rng.dirichlet(np.full(n_practices, 8.0))
    sizes = np.clip(np.rint(n_clients * practice_weights / p.mean_caseload), 3, MAX_CLINICIANS_PER_PRACTICE)
    sizes = sizes.astype(np.int64)
    practice_of = np.repeat(np.arange(n_practices), sizes)
    n = len(practice_of)
    part_time = np.isin(np.arange(n), rng.permutation(n)[: max(1, round(p.part_time_rate * n))])
    load = rng.lognormal(0.0, p.caseload_spread, n) * np.where(part_time, p.part_time_load, 1.0)
    weight = practice_weights[practice_of] * load / np.bincount(practice_of, weights=load)[practice_of]
    log_effect = rng.normal(0.0, p.clinician_effect_sd, n)
    # A few clearly better and clearly worse clinicians, among those with a full caseload so that they show.
    outliers = max(1, round(p.clinician_outlier_rate * n))
    full = np.flatnonzero(~part_time)
    candidates = rng.permutation(full if len(full) >= 2 * outliers else np.arange(n))
    better, worse = candidates[:outliers], candidates[outliers : 2 * outliers]
    log_effect[better], log_effect[worse] = p.clinician_outlier_effect, -p.clinician_outlier_effect
    planted = np.where(
        np.isin(np.arange(n), better), "better", np.where(np.isin(np.arange(n), worse), "worse", "typical")
    )
    practices = [f"PR{i + 1:02d}" for i in range(n_practices)]
    first = np.cumsum(sizes) - sizes
    ids = [f"{practices[q]}-C{i - first[q] + 1:02d}" for i, q in enumerate(practice_of)]
    return Roster(
        practices=practices,
        clinician_ids=ids,
        practice_of=practice_of,
        first_of_practice=first,
        size_of_practice=sizes,
        weight=weight / weight.sum(),
        part_time=part_time,
        log_effect=log_effect,
        planted=planted.tolist(),
    )


# ---------------------------------------------------------------------------------------------------------------
# One chunk of clients


@dataclass
class Chunk:
    """One chunk's four tables, and its sums for the ground truth (rows: clinician × telehealth; columns: STATS)."""

    tables: dict[str, pl.DataFrame]
    sums: np.ndarray


def _stat_names() -> list[str]:
    """The ground truth's sums: counts of episodes and events, true scores of paired episodes, item-9 odds."""
    names = ["episodes", "with_intake", "treated", "ended", "lapsed", "unplanned", "deviation"]
    names += [f"reach_M{k}" for k in range(1, 5)]
    for inst, scale in SCALE_KEYS:
        names += [f"{inst}.{scale}.{s}" for s in ("n", "pre", "pre2", "post", "change", "change_cf")]
        names += [f"finished.{inst}.{scale}.{s}" for s in ("n", "pre", "pre2", "post", "change")]
    return [*names, "item9.n_first", "item9.p_first", "item9.n_latest", "item9.p_latest"]


STATS = {name: i for i, name in enumerate(_stat_names())}


class _Sums:
    """The ground truth's sums over one chunk: one row per clinician × telehealth (each client's group)."""

    def __init__(self, group: np.ndarray, n_groups: int) -> None:
        self.group = group
        self.values = np.zeros((n_groups, len(STATS)))

    def add(self, name: str, weights: np.ndarray, clients: np.ndarray | None = None) -> None:
        """Add ``weights`` (one per client, or one per entry of ``clients``) to each client's group."""
        where = self.group if clients is None else self.group[clients]
        self.values[:, STATS[name]] += np.bincount(where, weights=weights, minlength=len(self.values))


@dataclass(frozen=True)
class _Attended:
    """The attended treatment sessions of a chunk, in client and date order."""

    client: np.ndarray  # index of the client in the chunk
    number: np.ndarray  # attended session number: 1 is the intake
    stage: np.ndarray  # latent IFS stage at the session
    day: np.ndarray  # days since 1970-01-01
    session_id: pl.Series


def _item_noise_sd(k: int, alpha: float, true_total_sd: float, method: str) -> float:
    """Error SD per item so that k parallel items have Cronbach's alpha ``alpha``; rounding answers to whole
    points already adds error of variance 1/12 (Sheppard), so the Gaussian part is what remains."""
    r = alpha / (k - alpha * (k - 1))
    item_true_sd = true_total_sd / k if method == "sum" else true_total_sd
    return math.sqrt(max(item_true_sd**2 * (1 / r - 1) - 1 / 12, 0.01))


def _true_scores(
    latent: LatentScale, scale: Scale, base: np.ndarray, stage: np.ndarray, gain: np.ndarray, p: Params
) -> np.ndarray:
    """Latent score at a stage: symptoms fall by a fraction of baseline per stage, Self rises (both × gain)."""
    if latent.lower_is_better:
        true = base * (1 - p.symptom_reduction_per_stage * gain * (stage - 1))
    else:
        # Self rises slowly while protectors and exiles are worked with and most at self-leadership (seed 001):
        # the same total gain as per_stage·(stage − 1) at stage 5, weighted towards the last stage.
        true = base + latent.per_stage * 4 * gain * np.asarray(SELF_GAIN_BY_STAGE)[stage - 1]
    return np.clip(true, scale.min, scale.max)


def _expected_score(inst: Instrument, scale: Scale, centre: np.ndarray, sd_e: float, p: Params) -> np.ndarray:
    """The scale score a client's answers average to at a latent state: the true score the ground truth reports.

    An answer is clip(rint(centre − offset + e)), e ~ N(0, sd_e); its mean is lo + Σ_v P(centre − offset + e > v − ½)
    over v = lo + 1 … hi. Not the latent value itself: floors, ceilings and the risk item's offset bend it."""
    steps = np.arange(inst.item_min + 1, inst.item_max + 1) - 0.5
    total = np.zeros(len(centre))
    for item in scale.items:
        shifted = centre - (p.risk_item_offset if item in inst.risk_items else 0.0)
        total += inst.item_min + ndtr((shifted[:, None] - steps) / sd_e).sum(axis=1)
    return total if scale.method == "sum" else total / len(scale.items)


def _simulate_chunk(
    roster: Roster, seed: int, chunk: int, first_client: int, n: int, as_of: dt.date, p: Params, registry: Registry
) -> Chunk:
    """Clients ``first_client`` … ``first_client + n − 1``: episodes, sessions, answers and goals, and the ground
    truth's sums; drawn from the chunk's own stream (the roster's is (seed, 0))."""
    rng = np.random.default_rng([seed, chunk + 1])
    today = (as_of - _EPOCH).days

    # --- who, where, what (one row per client)
    n_clinicians = len(roster.clinician_ids)
    clinician = np.minimum(np.searchsorted(np.cumsum(roster.weight), rng.random(n), side="right"), n_clinicians - 1)
    practice = roster.practice_of[clinician]
    service = rng.choice(3, size=n, p=list(p.service_mix))
    coaching = service != 0  # coaching or combined: GAS goals, resistance and commitments
    hp = rng.random(n) < p.helping_professional_rate
    theme_names = sorted(set(HP_THEMES) | set(OTHER_THEMES))
    hp_bits = np.array([1 << theme_names.index(t) for t in HP_THEMES])
    other_bits = np.array([1 << theme_names.index(t) for t in OTHER_THEMES])
    n_themes = rng.integers(1, 4, size=n)
    draws = rng.random((n, 3))
    bits = np.where(
        hp[:, None], hp_bits[(draws * len(HP_THEMES)).astype(int)], other_bits[(draws * len(OTHER_THEMES)).astype(int)]
    )
    theme_mask = np.bitwise_or.reduce(np.where(np.arange(3) < n_themes[:, None], bits, 0), axis=1)
    telehealth = rng.random(n) < p.telehealth_preference_rate
    home = rng.integers(0, 2, size=n)
    readiness = rng.lognormal(0.0, 0.3, size=n)
    intake = rng.random(n) >= p.consultation_only_rate
    start = today - rng.integers(10, p.history_days, size=n)
    age = rng.choice(len(AGE_BANDS), size=n, p=AGE_P)
    age_known = rng.random(n) >= 0.05
    gender = rng.choice(len(GENDERS), size=n, p=GENDER_P)
    gender_known = rng.random(n) >= 0.04
    profession = rng.choice(len(PROFESSIONS), size=n, p=PROFESSION_P)
    themes_known = rng.random(n) > 0.05
    consultation = ~intake | (rng.random(n) < p.consultation_before_intake_rate)
    consultation_day = np.where(intake, start - rng.integers(5, 15, size=n), start)

    # Latent baselines, correlated through one distress factor.
    distress = rng.normal(size=n)
    z = 0.6 * distress[:, None] + 0.8 * rng.normal(size=(n, len(SCALE_KEYS)))
    base = np.empty((n, len(SCALE_KEYS)))
    for s, latent in enumerate(LATENT.values()):
        base[:, s] = latent.mean + latent.sd * (z[:, s] if latent.lower_is_better else -z[:, s])
        if latent.lower_is_better:
            base[:, s] *= np.where(service == 1, COACHING_SEVERITY, 1.0)
    lo = np.array([p.planned_sessions[s][0] for s in SERVICES])[service]
    hi = np.array([p.planned_sessions[s][1] for s in SERVICES])[service]
    planned = rng.integers(lo, hi + 1)
    deviates = rng.random(n) < p.deviation_rate
    resistance_base = np.where(coaching, rng.uniform(2, 9, size=n), 0.0)
    n_goals = np.where(coaching, rng.integers(2, 4, size=n), 0)
    goal_weight = rng.integers(1, 4, size=(n, 3))
    # Waiting times: the attended session at which each stage move happens (one chance per attended session after
    # the intake), and the one at which the client drops out; the episode closes at the planned count first.
    advance_at = 1 + np.cumsum(rng.geometric(np.minimum(0.9, np.outer(readiness, p.stage_advance_p))), axis=1)
    dropout_at = 1 + rng.geometric(p.dropout_hazard * np.where(resistance_base > 7, 1.3, 1.0))
    planned_end = dropout_at >= planned
    target = np.where(intake, np.minimum(planned, dropout_at), 0)
    tele_gain = np.where(telehealth, p.telehealth_effect_ratio, 1.0)
    gain = tele_gain * np.exp(roster.log_effect[clinician])

    # --- scheduled treatment sessions: before each attended session after the intake, a run of missed ones
    slot_client = np.repeat(np.arange(n), target)
    slot_number = _ranks(target) + 1
    misses = np.where(slot_number > 1, rng.geometric(p.attend_p, size=len(slot_client)) - 1, 0)
    row_slot = np.repeat(np.arange(len(slot_client)), misses + 1)
    row_attended = _ranks(misses + 1) == misses[row_slot]
    row_client, row_number = slot_client[row_slot], slot_number[row_slot]
    n_rows = len(row_client)
    cancelled = rng.random(n_rows) < p.cancel_p / (1 - p.attend_p)
    gap = np.where(rng.random(n_rows) > 0.15, 7, 14) + rng.integers(-1, 2, size=n_rows)
    before = np.cumsum(gap) - gap
    rows_per_client = np.bincount(row_client, minlength=n)
    day = start[row_client] + before - before[np.repeat(np.cumsum(rows_per_client) - rows_per_client, rows_per_client)]
    keep = day <= today  # sessions after the as-of date have not happened: the episode is still open
    truncated = np.bincount(row_client[~keep], minlength=n) > 0
    row_client, row_number, row_attended, cancelled, day = (
        a[keep] for a in (row_client, row_number, row_attended, cancelled, day)
    )
    n_rows = len(row_client)
    row_slot_in_client = _ranks(np.bincount(row_client, minlength=n)) + 1  # session number; the consultation is 0

    # --- attended treatment sessions: latent stage and the clinician's process ratings
    att = np.flatnonzero(row_attended)
    c, j = row_client[att], row_number[att]
    na = len(att)
    attended = np.bincount(c, minlength=n)
    last_day = np.full(n, -1)
    last_day[attended > 0] = day[att][np.cumsum(attended)[attended > 0] - 1]
    stage = 1 + (advance_at[c] <= j[:, None]).sum(axis=1)
    advanced_to = np.where((advance_at[c] == j[:, None]).any(axis=1), stage, 0)
    final_stage = 1 + (advance_at <= attended[:, None]).sum(axis=1)
    deviation = deviates[c] & (j == 2) & (advance_at[c, 0] > 2)  # exile contact before protector trust

    trust = np.where(
        stage == 1,
        np.clip(np.rint(3.5 + rng.normal(0, 1.2, na)), 0, 6),
        np.clip(np.rint(7.5 + 0.4 * stage + rng.normal(0, 0.8, na)), 7, 10),
    )
    focus = np.where(rng.random(na) > 0.1, np.minimum(stage, 5), rng.integers(1, 6, size=na))
    self_energy = np.clip(np.rint(2.5 + 1.3 * stage + rng.normal(0, 1.0, na)), 0, 10)
    polarization = np.clip(np.rint(8.5 - 1.4 * stage + rng.normal(0, 1.0, na)), 0, 10)
    u = rng.random(na)
    unblending = np.where(stage == 1, np.where(u < 0.6, 0, 1), np.where(u < 0.4, 1, 2))  # none, partial, full
    # Exiles are contacted, with permission, once protectors allow it (M2 at the move to stage 3).
    exile_contact = (stage >= 3) | deviation
    permission = (stage >= 3) | (deviation & (rng.random(na) >= p.no_permission_rate))
    witnessed = (stage >= 3) & (rng.random(na) < 0.6)
    u = rng.random(na)
    unburdening = np.where(advanced_to == 4, np.where(u < 0.6, 1, 2), 0)  # M3 reached: an unburdening
    unburdening[(stage >= 4) & (advanced_to == 0) & (rng.random(na) < 0.3)] = 1
    release = np.where(advanced_to == 5, np.where(rng.random(na) < 0.5, 1, 2), 0)  # M4 reached: protector release
    resistance = np.clip(resistance_base[c] - 0.9 * (stage - 1) + rng.normal(0, 1.2, na), 0, 10)
    commitments = rng.integers(1, 5, size=na)
    previous = np.where(j == 1, 0, np.roll(commitments, 1))  # set in the client's previous attended session
    kept = rng.binomial(previous, np.clip(0.95 - resistance / 12, 0.05, 0.95))

    # --- sessions table: treatment rows and consultations, each client's in date order
    s_client = np.concatenate([np.flatnonzero(consultation), row_client])
    n_sessions = len(s_client)
    s_number = np.concatenate([np.zeros(int(consultation.sum()), dtype=np.int64), row_slot_in_client])
    s_day = np.concatenate([consultation_day[consultation], day])
    s_kind = np.concatenate(
        [
            np.zeros(int(consultation.sum()), dtype=np.int64),
            np.where(
                row_attended & (row_number == 1), 1, np.where(row_attended & (row_number == planned[row_client]), 3, 2)
            ),
        ]
    )  # consultation, intake, regular, closing
    s_status = np.concatenate(
        [np.zeros(int(consultation.sum()), dtype=np.int64), np.where(row_attended, 0, np.where(cancelled, 1, 2))]
    )  # attended, cancelled, no_show
    s_treatment_row = np.concatenate([np.full(int(consultation.sum()), -1), np.arange(n_rows)])
    order = np.argsort(s_client * _SLOTS + s_number, kind="stable")
    s_client, s_number, s_day, s_kind, s_status, s_treatment_row = (
        a[order] for a in (s_client, s_number, s_day, s_kind, s_status, s_treatment_row)
    )
    in_person = np.where(rng.random(n_sessions) < p.modality_adherence, ~telehealth[s_client], telehealth[s_client])
    duration = np.clip(np.rint(rng.normal(50, 3, n_sessions)), 30, 90)
    s_attended = s_status == 0
    # Cover: another clinician of the same practice holds the session.
    s_practice = practice[s_client]
    other = roster.first_of_practice[s_practice] + rng.integers(0, roster.size_of_practice[s_practice] - 1)
    other += other >= clinician[s_client]
    s_clinician = np.where(rng.random(n_sessions) < p.cover_session_rate, other, clinician[s_client])
    # Process columns: from the attended treatment row each session is, null elsewhere.
    process_row = np.full(n_rows, -1)
    process_row[att] = np.arange(na)
    s_process = np.full(n_sessions, -1)
    s_process[s_treatment_row >= 0] = process_row[s_treatment_row[s_treatment_row >= 0]]
    has_process = s_process >= 0

    def on_sessions(values: np.ndarray) -> np.ndarray:
        """A value of each attended treatment session on its sessions row (0 elsewhere, where it is null)."""
        out = np.zeros(n_sessions, dtype=values.dtype)
        out[has_process] = values[s_process[has_process]]
        return out

    s_coaching = has_process & coaching[s_client]
    exile_known = has_process & on_sessions(exile_contact)

    client_ids = _pseudonyms("c", seed, first_client + np.arange(n))
    session_ids = _pseudonyms("s", seed, (first_client + s_client) * _SLOTS + s_number)
    locations = [f"{pr}-L{i}" for pr in roster.practices for i in (1, 2)]
    extent = ("none", "partial", "complete")
    session_columns: dict[str, pl.Series] = {
        "session_id": session_ids,
        "client_id": client_ids.gather(s_client),
        "clinician_id": _labels(roster.clinician_ids, s_clinician),
        "session_date": _column(s_day, pl.Date),
        "kind": _labels(("consultation", "intake", "regular", "closing"), s_kind),
        "status": _labels(("attended", "cancelled", "no_show"), s_status),
        "modality": _labels(("telehealth", "in_person"), in_person.astype(int)),
        "location_id": _labels(locations, practice[s_client] * 2 + home[s_client], in_person),
        "duration_min": _column(duration, pl.Int64, s_attended),
        "focus_goal": _column(on_sessions(focus), pl.Int64, has_process),
        "self_energy": _column(on_sessions(self_energy), pl.Int64, has_process),
        "protector_trust": _column(on_sessions(trust), pl.Int64, has_process),
        "polarization": _column(on_sessions(polarization), pl.Int64, has_process),
        "unblending": _labels(("none", "partial", "full"), on_sessions(unblending), has_process),
        "exile_contact": _column(on_sessions(exile_contact), pl.Boolean, has_process),
        "protector_permission": _column(on_sessions(permission), pl.Boolean, exile_known),
        "exile_witnessed": _column(on_sessions(witnessed), pl.Boolean, exile_known),
        "unburdening": _labels(extent, on_sessions(unburdening), has_process),
        "protector_release": _labels(extent, on_sessions(release), has_process),
        "resistance": _column(np.rint(on_sessions(resistance)), pl.Int64, s_coaching),
        "commitments_set": _column(on_sessions(commitments), pl.Int64, s_coaching),
        "commitments_kept": _column(on_sessions(kept), pl.Int64, s_coaching),
    }
    sessions = pl.DataFrame(session_columns).cast(pl.Schema(TABLES_BY_NAME["sessions"].dtypes))
    # The session id of each attended treatment row, for the answers given at it.
    att_session = np.empty(na, dtype=np.int64)
    att_session[s_process[has_process]] = np.flatnonzero(has_process)

    # --- endings
    natural = intake & ~truncated
    is_planned = natural & planned_end
    dropped = natural & ~planned_end
    formal = dropped & (rng.random(n) < 0.5)  # half are discharged; the rest simply stop coming
    lapsed = dropped & ~formal & (today - last_day > 42)
    to_therapy = coaching & (resistance_base > 7.5) & (rng.random(n) < 0.5)
    reason = np.where(
        is_planned,
        np.where(to_therapy, 3, rng.choice(3, size=n, p=[0.72, 0.23, 0.05])),
        4 + rng.integers(0, 2, size=n),
    )
    discharge = np.minimum(
        today, last_day + np.where(is_planned, rng.integers(0, 8, size=n), rng.integers(7, 40, size=n))
    )
    discharged = is_planned | formal

    theme_values, theme_codes = np.unique(theme_mask, return_inverse=True)
    theme_labels = [";".join(t for b, t in enumerate(theme_names) if m >> b & 1) for m in theme_values.tolist()]
    clients = pl.DataFrame(
        {
            "client_id": client_ids,
            "practice_id": _labels(roster.practices, practice),
            "clinician_id": _labels(roster.clinician_ids, clinician),
            "service": _labels(SERVICES, service),
            "intake_date": _column(start, pl.Date, intake),
            "age_band": _labels(AGE_BANDS, age, age_known),
            "gender": _labels(GENDERS, gender, gender_known),
            "helping_professional": pl.Series(hp),
            "profession": _labels(PROFESSIONS, profession, hp),
            "presenting_themes": _labels(theme_labels, theme_codes, themes_known),
            "discharge_date": _column(discharge, pl.Date, discharged),
            "discharge_reason": _labels((*DISCHARGE_REASONS, *DROPOUT_REASONS), reason, discharged),
        }
    ).cast(pl.Schema(TABLES_BY_NAME["clients"].dtypes))

    # --- goals (GAS): rated at the intake and every 4th attended session
    rated = np.flatnonzero(coaching[c] & ((j == 1) | (j % 4 == 0)))
    g_att = np.repeat(rated, n_goals[c[rated]])
    g_number = _ranks(n_goals[c[rated]])
    g_client = c[g_att]
    attainment = np.where(
        j[g_att] == 1, -1, np.clip(np.rint(-1.3 + 0.65 * (stage[g_att] - 1) + rng.normal(0, 0.7, len(g_att))), -2, 2)
    )
    goals = pl.DataFrame(
        {
            "client_id": client_ids.gather(g_client),
            "goal_id": client_ids.gather(g_client) + "-g" + pl.Series(g_number + 1).cast(pl.String),
            "weight": pl.Series(goal_weight[g_client, g_number]),
            "set_on": _column(start[g_client], pl.Date),
            "rated_on": _column(day[att][g_att], pl.Date),
            "attainment": pl.Series(attainment),
        }
    ).cast(pl.Schema(TABLES_BY_NAME["goals"].dtypes))

    # --- answers, and the ground truth's sums
    sums = _Sums(clinician * 2 + telehealth, 2 * n_clinicians)
    visits = _Attended(c, j, stage, day[att], session_ids.gather(att_session))
    finished = discharged & (attended >= 2)  # the pipeline's finished treatment (docs/indicators.md §3)
    measures = _answers(rng, visits, client_ids, service, hp, base, gain, tele_gain, finished, sums, p, registry)

    sums.add("episodes", np.ones(n))
    sums.add("with_intake", intake.astype(float))
    sums.add("treated", (attended >= 2).astype(float))
    sums.add("ended", (is_planned | formal).astype(float))
    sums.add("lapsed", lapsed.astype(float))
    sums.add("unplanned", formal.astype(float))
    sums.add("deviation", np.bincount(c[deviation], minlength=n).astype(float))
    for k in range(1, 5):
        sums.add(f"reach_M{k}", (intake & (final_stage > k)).astype(float))
    tables = {"clients": clients, "sessions": sessions, "measures": measures, "goals": goals}
    return Chunk(tables, sums.values)


def _answers(
    rng: np.random.Generator,
    visits: _Attended,
    client_ids: pl.Series,
    service: np.ndarray,
    hp: np.ndarray,
    base: np.ndarray,
    gain: np.ndarray,
    tele_gain: np.ndarray,
    finished: np.ndarray,
    sums: _Sums,
    p: Params,
    registry: Registry,
) -> pl.DataFrame:
    """Item answers for every administration, and the true scores' sums (``gain``: each client's improvement
    multiplier; ``tele_gain``: the same with a median clinician, for the clinicians' true effects).

    PHQ-9 and GAD-7 most sessions (every 4th in coaching), IFS Self every 4th, ProQOL every 8th for helping
    professionals, the 8 Cs check-in every 2nd session (every session in coaching); some first questionnaires are
    filled in online before the intake."""
    c, j, first = visits.client, visits.number, visits.number == 1
    coaching_only = service[c] == 1
    due = {
        "gad7": first | np.where(coaching_only, j % 4 == 1, rng.random(len(c)) < 0.8),
        "ifs_self": j % 4 == 1,
        "phq9": first | np.where(coaching_only, j % 4 == 1, rng.random(len(c)) < 0.8),
        "proqol5": hp[c] & (j % 8 == 1),
        "self_energy_8c": ~first & (coaching_only | (j % 2 == 0)),
    }
    answers: list[pl.DataFrame] = []
    supplied: list[pl.DataFrame] = []
    for inst_id in sorted(due):
        inst = registry[inst_id]
        rows = np.flatnonzero(due[inst_id])
        client = c[rows]
        pre_intake = first[rows] & (inst_id != "self_energy_8c") & (rng.random(len(rows)) < 0.3)
        counts = np.bincount(client, minlength=len(service))
        first_of = (np.cumsum(counts) - counts)[counts > 0]
        paired = counts[counts > 0] >= 2
        latest_of = (np.cumsum(counts) - 1)[counts > 0][paired]
        baseline_of = first_of[paired]
        values = np.empty((len(rows), len(inst.item_ids)))
        for scale in inst.scales.values():
            key, latent = f"{inst_id}.{scale.id}", LATENT[(inst_id, scale.id)]
            s = SCALE_KEYS.index((inst_id, scale.id))
            per_item = len(scale.items) if scale.method == "sum" else 1
            sd_e = _item_sd(registry, inst_id, scale.id, p)
            centre = _true_scores(latent, scale, base[client, s], visits.stage[rows], gain[client], p) / per_item
            # Risk items (PHQ-9 item 9) sit below the others: endorsed mostly at high severity.
            risk = np.array([item in inst.risk_items for item in scale.items])
            noisy = np.rint(centre[:, None] - p.risk_item_offset * risk + rng.normal(0, sd_e, (len(rows), len(risk))))
            noisy = np.clip(noisy, inst.item_min, inst.item_max)
            reverse = np.array([item in inst.reverse_items for item in scale.items])
            values[:, [inst.item_ids.index(item) for item in scale.items]] = np.where(
                reverse, inst.item_min + inst.item_max - noisy, noisy
            )
            # True scores at the baseline and latest administration of paired episodes, and what they would have
            # been with a median clinician.
            ends = np.concatenate([baseline_of, latest_of])
            median = _true_scores(
                latent, scale, base[client, s][ends], visits.stage[rows][ends], tele_gain[client][ends], p
            )
            pre, post = np.split(_expected_score(inst, scale, centre[ends], sd_e, p), 2)
            pre_median, post_median = np.split(_expected_score(inst, scale, median / per_item, sd_e, p), 2)
            pair_client = client[latest_of]
            sums.add(f"{key}.n", np.ones(len(pair_client)), pair_client)
            sums.add(f"{key}.pre", pre, pair_client)
            sums.add(f"{key}.pre2", pre**2, pair_client)
            sums.add(f"{key}.post", post, pair_client)
            sums.add(f"{key}.change", post - pre, pair_client)
            sums.add(f"{key}.change_cf", post_median - pre_median, pair_client)
            done = finished[pair_client].astype(float)  # the same sums over finished treatment only
            for stat, value in (("n", np.ones(len(pair_client))), ("pre", pre), ("pre2", pre**2), ("post", post),
                                ("change", post - pre)):  # fmt: skip
                sums.add(f"finished.{key}.{stat}", value * done, pair_client)
            if key == "phq9.total":  # P(item 9 > 0): its latent answer rounds to 1 or more
                endorsed = ndtr((centre - p.risk_item_offset - 0.5) / sd_e)
                sums.add("item9.n_first", np.ones(len(first_of)), client[first_of])
                sums.add("item9.p_first", endorsed[first_of], client[first_of])
                sums.add("item9.n_latest", np.ones(len(pair_client)), pair_client)
                sums.add("item9.p_latest", endorsed[latest_of], pair_client)
        skipped = rng.random(values.shape) < p.skip_item_p
        values[skipped] = np.nan
        administrations = pl.DataFrame(
            {
                "client_id": client_ids.gather(client),
                "session_id": visits.session_id.gather(rows).scatter(np.flatnonzero(pre_intake), None),
                "administered_on": _column(
                    visits.day[rows] - np.where(pre_intake, rng.integers(1, 10, size=len(rows)), 0), pl.Date
                ),
            }
        )
        k = len(inst.item_ids)
        answers.append(
            administrations.select(pl.all().gather(np.repeat(np.arange(len(rows)), k))).with_columns(
                instrument=pl.lit(inst_id),
                item=pl.Series(inst.item_ids, dtype=pl.String).gather(np.tile(np.arange(k), len(rows))),
                value=pl.Series(values.ravel(), nan_to_null=True),
            )
        )
        if inst_id == "phq9":  # some administrations carry a supplied total, which agrees with complete items
            chosen = ~skipped.any(axis=1) & (rng.random(len(rows)) < p.supplied_total_rate)
            supplied.append(
                administrations.filter(pl.Series(chosen)).with_columns(
                    instrument=pl.lit(inst_id), item=pl.lit("total"), value=pl.Series(values[chosen].sum(axis=1))
                )
            )
    columns = TABLES_BY_NAME["measures"].columns
    return pl.concat([f.select(columns) for f in [*answers, *supplied]]).cast(
        pl.Schema(TABLES_BY_NAME["measures"].dtypes)
    )


# ---------------------------------------------------------------------------------------------------------------
# Batches


def generate_chunks(
    n_clients: int, seed: int, as_of: dt.date, params: Params | None = None, registry: Registry | None = None
) -> Iterator[Chunk]:
    """The batch chunk by chunk (``CHUNK_CLIENTS`` clients each), in bounded memory; deterministic per seed."""
    p = params or Params()
    registry = registry or default_registry()
    roster = _roster(n_clients, seed, p)
    for number, first_client in enumerate(range(0, n_clients, CHUNK_CLIENTS)):
        size = min(CHUNK_CLIENTS, n_clients - first_client)
        yield _simulate_chunk(roster, seed, number, first_client, size, as_of, p, registry)


def generate(
    n_clients: int, seed: int, as_of: dt.date, params: Params | None = None, registry: Registry | None = None
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """The four input tables and the ground truth, deterministically from ``seed``."""
    chunks = list(generate_chunks(n_clients, seed, as_of, params, registry))
    tables = {name: pl.concat([chunk.tables[name] for chunk in chunks]) for name in TABLE_NAMES}
    sums = np.sum([chunk.sums for chunk in chunks], axis=0)
    counts = {name: frame.height for name, frame in tables.items()}
    return tables, ground_truth(n_clients, seed, as_of, sums, counts, params, registry)


def ground_truth(
    n_clients: int,
    seed: int,
    as_of: dt.date,
    sums: np.ndarray,
    counts: dict[str, int],
    params: Params | None = None,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """What the generator planted, from the chunks' summed statistics (rows: clinician × telehealth)."""
    p = params or Params()
    registry = registry or default_registry()
    roster = _roster(n_clients, seed, p)
    total = sums.sum(axis=0)

    def col(name: str, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        return sums[rows, STATS[name]]

    def ratio(a: float, b: float) -> float | None:
        return float(a / b) if b else None

    n = total[STATS["with_intake"]]

    def effects_of(prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for inst, scale in SCALE_KEYS:
            key = f"{inst}.{scale}"
            paired = total[STATS[f"{prefix}{key}.n"]]
            if not paired:
                continue
            mean_pre = total[STATS[f"{prefix}{key}.pre"]] / paired
            sd_pre = (
                math.sqrt(max(total[STATS[f"{prefix}{key}.pre2"]] - paired * mean_pre**2, 0.0) / (paired - 1))
                if paired > 1
                else None
            )
            change = total[STATS[f"{prefix}{key}.change"]] / paired
            sign = -1.0 if LATENT[(inst, scale)].lower_is_better else 1.0
            tele, in_person = slice(1, None, 2), slice(0, None, 2)
            out[key] = {
                "n_paired": int(paired),
                "true_mean_baseline": float(mean_pre),
                "true_mean_latest": float(total[STATS[f"{prefix}{key}.post"]] / paired),
                "true_mean_change": float(change),
                "true_sd_baseline": sd_pre,
                "true_standardized_change": float(sign * change / sd_pre) if sd_pre else None,
                "true_mean_change_in_person": ratio(
                    col(f"{prefix}{key}.change", in_person).sum(), col(f"{prefix}{key}.n", in_person).sum()
                ),
                "true_mean_change_telehealth": ratio(
                    col(f"{prefix}{key}.change", tele).sum(), col(f"{prefix}{key}.n", tele).sum()
                ),
            }
        return out

    effects = effects_of("")
    clinicians: dict[str, Any] = {}
    for i, clinician_id in enumerate(roster.clinician_ids):
        rows = slice(2 * i, 2 * i + 2)
        entry: dict[str, Any] = {
            "practice_id": roster.practices[roster.practice_of[i]],
            "planted": roster.planted[i],
            "log_multiplier": float(roster.log_effect[i]),
            "multiplier": float(math.exp(roster.log_effect[i])),
            "part_time": bool(roster.part_time[i]),
            "caseload_share": float(roster.weight[i]),
            "episodes": int(col("episodes", rows).sum()),
            "episodes_with_intake": int(col("with_intake", rows).sum()),
        }
        for key in CLINICIAN_SCALES:
            paired = col(f"{key}.n", rows).sum()
            entry[key] = {
                "n_paired": int(paired),
                "true_mean_change": ratio(col(f"{key}.change", rows).sum(), paired),
                "true_effect": ratio(col(f"{key}.change", rows).sum() - col(f"{key}.change_cf", rows).sum(), paired),
            }
        clinicians[clinician_id] = entry
    ended, lapsed, unplanned = (total[STATS[s]] for s in ("ended", "lapsed", "unplanned"))
    item_sd = _item_sd(registry, "phq9", "total", p)
    return {
        "seed": seed,
        "n_clients": n_clients,
        "as_of": as_of.isoformat(),
        "params": asdict(p),
        "latent_baselines": {f"{k[0]}.{k[1]}": asdict(v) for k, v in LATENT.items()},
        "counts": counts,
        "episodes_with_intake": int(n),
        "consultation_only_episodes": int(total[STATS["episodes"]] - n),
        "true_effects": effects,
        "true_effects_finished_treatment": effects_of("finished."),
        "finished_treatment_meaning": "the same true effects over the paired episodes that finished treatment "
        "(discharged with at least two attended treatment sessions): what outcome_summary publishes as "
        "population finished_treatment, period all",
        "true_score_meaning": "the scale score a client's answers average to at their latent state of that "
        "session (floors, ceilings and PHQ-9 item 9's offset included): the expected observed score",
        "telehealth_vs_in_person": {
            "planted_effect_ratio": p.telehealth_effect_ratio,
            "meaning": "telehealth episodes' latent improvement is this fraction of in-person improvement; "
            "modality is the client's preferred modality (90% of sessions follow it)",
        },
        "clinician_effects": {
            "meaning": "each episode's latent improvement per IFS stage (symptom reduction and Self gain) is "
            "multiplied by its assigned clinician's multiplier = exp(log_multiplier); log multipliers are "
            f"N(0, {p.clinician_effect_sd}) except for the clinicians planted clearly 'better' "
            f"(+{p.clinician_outlier_effect}) or 'worse' (−{p.clinician_outlier_effect}). true_effect = the mean, "
            "over the clinician's paired episodes, of the true change minus the true change the same episodes "
            "would have had with a median clinician (multiplier 1), in scale points (for PHQ-9 and GAD-7 negative "
            f"is better). Sessions carry the assigned clinician except ~{p.cover_session_rate:.0%} held by another "
            "clinician of the practice",
            "clinicians": clinicians,
        },
        "phq9_item9": {
            "meaning": "item 9 (self-harm) sits risk_item_offset item points below the other items on the same "
            "latent severity, so it is endorsed mostly at high severity and less often as clients improve; planted "
            "prevalence = mean model probability that item 9 > 0, at each episode's first PHQ-9 (intake) and at "
            "the latest of episodes with two or more",
            "risk_item_offset": p.risk_item_offset,
            "planted_prevalence_intake": ratio(total[STATS["item9.p_first"]], total[STATS["item9.n_first"]]),
            "planted_prevalence_latest": ratio(total[STATS["item9.p_latest"]], total[STATS["item9.n_latest"]]),
            "endorsement_by_true_total": {
                str(t): float(ndtr((t / 9 - p.risk_item_offset - 0.5) / item_sd)) for t in (5, 10, 15, 20, 25)
            },
        },
        "milestone_reach_rates": {
            "denominator": "episodes with an intake",
            **{f"M{k}": ratio(total[STATS[f"reach_M{k}"]], n) or 0.0 for k in range(1, 5)},
            "treated_denominator": int(total[STATS["treated"]]),
        },
        "dropout": {
            "ended": int(ended),
            "lapsed": int(lapsed),
            "unplanned": int(unplanned),
            "dropout_rate": ratio(unplanned + lapsed, ended + lapsed),
            "note": "unplanned = dropouts discharged as withdrew/lost contact; lapsed = undischarged dropouts whose "
            "last attended session is over 42 days before the as-of date (the others are still open)",
        },
        "sequence_deviation_episodes": int(total[STATS["deviation"]]),
    }


def _item_sd(registry: Registry, instrument: str, scale_id: str, p: Params) -> float:
    """The error SD of one item of a scale: what makes the scale's alpha its published reliability."""
    scale = registry[instrument].scales[scale_id]
    alpha = scale.reliability or p.target_alpha_8c
    return _item_noise_sd(len(scale.items), alpha, LATENT[(instrument, scale_id)].sd, scale.method)


def as_exported(frame: pl.DataFrame) -> pl.DataFrame:
    """Integral answers as integers ("3", not "3.0"), as a practice's CSV export would write them."""
    integral = [
        c
        for c, t in frame.schema.items()
        if t == pl.Float64 and frame.select((pl.col(c).round() == pl.col(c)).all()).item() is not False
    ]
    return frame.with_columns(pl.col(integral).cast(pl.Int64))


def write_batch(
    out: Path,
    n_clients: int,
    seed: int,
    as_of: dt.date,
    fmt: str = "csv",
    progress: Callable[[str], None] | None = None,
    advance: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the batch folder (tables, batch.toml, ground_truth.json) chunk by chunk; returns rows per table.
    ``progress`` gets a message and ``advance`` the number of clients written after each chunk."""
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    for name in TABLE_NAMES:
        for stale in out.glob(f"{name}.*"):
            stale.unlink()
    counts = dict.fromkeys(TABLE_NAMES, 0)
    sums: np.ndarray | None = None
    with contextlib.ExitStack() as stack:
        sinks: dict[str, IO[bytes]] = {}
        writers: dict[str, pq.ParquetWriter] = {}
        for number, chunk in enumerate(generate_chunks(n_clients, seed, as_of)):
            for name, frame in chunk.tables.items():
                target = out / f"{name}.{fmt}"
                if fmt == "csv":
                    if name not in sinks:
                        sinks[name] = stack.enter_context(open(target, "wb"))
                    as_exported(frame).write_csv(sinks[name], include_header=number == 0, date_format="%Y-%m-%d")
                else:
                    table = frame.to_arrow()
                    if name not in writers:
                        writers[name] = stack.enter_context(pq.ParquetWriter(target, table.schema))
                    writers[name].write_table(table)
                counts[name] += frame.height
            sums = chunk.sums if sums is None else sums + chunk.sums
            done = min(n_clients, (number + 1) * CHUNK_CLIENTS)
            if progress is not None:
                progress(f"generated {done:,} of {n_clients:,} clients")
            if advance is not None:
                advance(done)
    assert sums is not None, "a batch has at least one client"
    truth = ground_truth(n_clients, seed, as_of, sums, counts)
    io.write_text_atomic(
        f'exported_at = {as_of.isoformat()}\nsource = "ifs-outcomes demo --seed {seed} --clients {n_clients}"\n',
        out / "batch.toml",
    )
    io.write_text_atomic(json.dumps(truth, indent=2, sort_keys=True) + "\n", out / GROUND_TRUTH_FILE)
    return counts
