"""Synthetic practice batches from a latent model of IFS work, with the ground truth that made them.

The model, per client episode:
- a practice, clinician and (for in-person work) location; a service (therapy / coaching / combined); ~40% are
  helping professionals with the themes of seed 000 (burnout, compassion fatigue, secondary trauma, …);
- a free consultation, an intake, then weekly 50-minute sessions with cancellations and no-shows; an episode
  ends as planned (closing session), drops out (withdrawn, lost contact, or simply lapses), or is still open
  at the as-of date; ~10% of consultations never lead to an intake;
- a latent IFS stage 1..5 (seed 001: protector trust → exiles → unburdening → protector release →
  self-leadership) that advances session by session, mostly in order; a few clients show sequence deviations
  (exile contact before protector trust, or without permission);
- latent symptom severity (PHQ-9, GAD-7, ProQOL burnout/STS) that falls with stage, and Self (IFS Self Scale,
  8 Cs check-in, ProQOL compassion satisfaction) that rises with it; telehealth episodes improve by a planted
  fraction less than in-person ones;
- item answers drawn around the latent true score with noise sized so that each scale's Cronbach's alpha is
  close to its published reliability: with k items and target alpha a, the mean inter-item correlation is
  r = a / (k − a(k − 1)), so the item error variance is var(true item) · (1/r − 1).

Everything is drawn from one ``numpy`` generator seeded by ``seed``: the same seed gives the same batch.
``ground_truth.json`` records the parameters and the true effects computed from the latent true scores.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipeline import io
from schemas.inputs import PROFESSIONS, TABLES_BY_NAME
from schemas.registry import Registry, default_registry

GROUND_TRUTH_FILE = "ground_truth.json"


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
    no_permission_rate: float = 0.03  # exile contacts without protector permission (per deviating event)
    symptom_reduction_per_stage: float = 0.12  # fraction of baseline severity removed per stage advanced
    telehealth_effect_ratio: float = 0.80  # telehealth improvement as a fraction of in-person improvement
    skip_item_p: float = 0.015
    supplied_total_rate: float = 0.10  # PHQ-9 administrations that also carry a supplied total
    target_alpha_8c: float = 0.90


PRACTICE_COUNT = {True: 5, False: 3}  # large batches (>= 2000 clients) get five practices
HP_THEMES = ["burnout", "compassion_fatigue", "secondary_trauma", "imposter", "caretaking", "attachment"]
OTHER_THEMES = ["anxiety", "depression", "trauma", "relationships", "career", "attachment", "other"]
PROFESSION_P = [0.30, 0.15, 0.10, 0.10, 0.08, 0.12, 0.08, 0.07]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
AGE_P = [0.08, 0.28, 0.28, 0.18, 0.12, 0.06]
GENDERS = ["woman", "man", "nonbinary", "other"]
GENDER_P = [0.64, 0.30, 0.05, 0.01]


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
COACHING_SEVERITY = 0.6  # coaching clients start with lower symptom severity
#: Risk items (PHQ-9 item 9) sit this many points below the other items on the same latent severity, so they are
#: endorsed mostly by the most severe clients while still measuring the same thing.
RISK_ITEM_OFFSET = 0.8
#: Fraction of the total Self gain reached at stages 1..5.
SELF_GAIN_BY_STAGE = (0.0, 0.05, 0.15, 0.3, 1.0)


def _pseudonym(prefix: str, seed: int, n: int) -> str:
    return prefix + hashlib.sha256(f"{seed}:{prefix}:{n}".encode()).hexdigest()[:12]


@dataclass
class _Tables:
    clients: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    admins: list[dict[str, Any]] = field(default_factory=list)  # one per administration, with true scores
    goals: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)  # latent facts for the ground truth


def _true_scores(
    base: dict[tuple[str, str], float], stage: int, telehealth: bool, p: Params, registry: Registry
) -> dict[tuple[str, str], float]:
    """True score per scale at a given latent stage; symptoms fall by a fraction of baseline per stage."""
    gain = p.telehealth_effect_ratio if telehealth else 1.0
    out = {}
    for key, value in base.items():
        latent = LATENT[key]
        scale = registry[key[0]].scales[key[1]]
        if latent.lower_is_better:
            true = value * (1 - p.symptom_reduction_per_stage * gain * (stage - 1))
        else:
            # Self rises slowly while protectors and exiles are worked with and most at self-leadership (seed 001):
            # the same total gain as per_stage·(stage − 1) at stage 5, weighted towards the last stage.
            true = value + latent.per_stage * 4 * gain * SELF_GAIN_BY_STAGE[stage - 1]
        out[key] = float(min(max(true, scale.min), scale.max))
    return out


def _simulate(n_clients: int, seed: int, as_of: dt.date, p: Params, registry: Registry) -> _Tables:
    rng = np.random.default_rng(seed)
    t = _Tables()
    n_practices = PRACTICE_COUNT[n_clients >= 2000]
    clinicians_per_practice = int(min(12, max(3, n_clients // (250 * n_practices))))
    practices = [f"PR{i + 1:02d}" for i in range(n_practices)]
    practice_weights = rng.dirichlet(np.full(n_practices, 8.0))
    session_counter = itertools.count(1)

    for c in range(n_clients):
        _simulate_client(
            t, rng, c, seed, as_of, p, registry, practices, practice_weights, clinicians_per_practice, session_counter
        )
    return t


def _simulate_client(
    t: _Tables,
    rng: np.random.Generator,
    c: int,
    seed: int,
    as_of: dt.date,
    p: Params,
    registry: Registry,
    practices: list[str],
    practice_weights: np.ndarray,
    clinicians_per_practice: int,
    session_counter: Iterator[int],
) -> None:
    """One client episode: consultation, intake, weekly sessions, latent stage, measures and ending."""
    n_practices = len(practices)
    client_id = _pseudonym("c", seed, c)
    practice = practices[rng.choice(n_practices, p=practice_weights)]
    clinician = f"{practice}-C{rng.integers(1, clinicians_per_practice + 1):02d}"
    locations = [f"{practice}-L1", f"{practice}-L2"]
    service = str(rng.choice(["therapy", "coaching", "combined"], p=list(p.service_mix)))
    hp = bool(rng.random() < p.helping_professional_rate)
    themes_pool = HP_THEMES if hp else OTHER_THEMES
    themes = sorted(set(rng.choice(themes_pool, size=int(rng.integers(1, 4)), replace=True).tolist()))
    telehealth = bool(rng.random() < p.telehealth_preference_rate)
    home_location = locations[int(rng.integers(0, 2))]
    readiness = float(rng.lognormal(0.0, 0.3))
    consultation_only = bool(rng.random() < p.consultation_only_rate)
    start = as_of - dt.timedelta(days=int(rng.integers(10, p.history_days)))

    client = {
        "client_id": client_id,
        "practice_id": practice,
        "clinician_id": clinician,
        "service": service,
        "intake_date": None if consultation_only else start,
        "age_band": None if rng.random() < 0.05 else str(rng.choice(AGE_BANDS, p=AGE_P)),
        "gender": None if rng.random() < 0.04 else str(rng.choice(GENDERS, p=GENDER_P)),
        "helping_professional": hp,
        "profession": str(rng.choice(PROFESSIONS, p=PROFESSION_P)) if hp else None,
        "presenting_themes": ";".join(themes) if rng.random() > 0.05 else None,
        "discharge_date": None,
        "discharge_reason": None,
    }

    def add_session(date: dt.date, kind: str, status: str, modality: str, **process: Any) -> str:
        sid = _pseudonym("s", seed, next(session_counter))
        row = {
            "session_id": sid,
            "client_id": client_id,
            "clinician_id": clinician,
            "session_date": date,
            "kind": kind,
            "status": status,
            "modality": modality,
            "location_id": home_location if modality == "in_person" else None,
            "duration_min": int(np.clip(round(rng.normal(50, 3)), 30, 90)) if status == "attended" else None,
        }
        row.update(process)
        t.sessions.append(row)
        return sid

    def modality_now() -> str:
        preferred = "telehealth" if telehealth else "in_person"
        other = "in_person" if telehealth else "telehealth"
        return preferred if rng.random() < p.modality_adherence else other

    if consultation_only:
        add_session(start, "consultation", "attended", modality_now())
        t.clients.append(client)
        t.episodes.append({"client_id": client_id, "consultation_only": True})
        return
    if rng.random() < p.consultation_before_intake_rate:
        add_session(
            start - dt.timedelta(days=int(rng.integers(5, 15))),
            "consultation",
            "attended",
            modality_now(),
        )

    # Latent baselines, correlated through one distress factor.
    distress = rng.normal()
    severity_scale = COACHING_SEVERITY if service == "coaching" else 1.0
    base: dict[tuple[str, str], float] = {}
    for key, latent in LATENT.items():
        if key[0] == "proqol5" and not hp:
            continue
        z = 0.6 * distress + 0.8 * rng.normal()
        value = latent.mean + latent.sd * (z if latent.lower_is_better else -z)
        if latent.lower_is_better:
            value *= severity_scale
        base[key] = value

    lo, hi = p.planned_sessions[service]
    planned = int(rng.integers(lo, hi + 1))
    deviates = bool(rng.random() < p.deviation_rate)
    coaching = service in ("coaching", "combined")
    resistance_base = float(rng.uniform(2, 9)) if coaching else 0.0

    stage = 1
    milestone_dates: dict[int, dt.date] = {}
    attended = 0
    date = start
    end_kind = "open"
    last_attended: dt.date | None = None
    last_commitments = 0
    deviation_done = False
    goal_ids = [f"{client_id}-g{g}" for g in range(1, int(rng.integers(2, 4)) + 1)] if coaching else []
    goal_weights = {g: int(rng.integers(1, 4)) for g in goal_ids}

    while True:
        if date > as_of:
            end_kind = "open"
            break
        first = attended == 0
        kind = "intake" if first else "regular"
        status = (
            "attended"
            if first
            else str(
                rng.choice(
                    ["attended", "cancelled", "no_show"],
                    p=[p.attend_p, p.cancel_p, 1 - p.attend_p - p.cancel_p],
                )
            )
        )
        closing = (not first) and attended + 1 >= planned and status == "attended"
        if closing:
            kind = "closing"
        modality = modality_now()
        if status != "attended":
            add_session(date, kind, status, modality)
        else:
            attended += 1
            advanced_to = None
            if not first and stage < 5 and rng.random() < min(0.9, p.stage_advance_p[stage - 1] * readiness):
                stage += 1
                advanced_to = stage
                milestone_dates[stage - 1] = date
            process = _process_markers(
                rng,
                stage,
                advanced_to,
                deviates and not deviation_done and stage == 1 and attended >= 2,
                p,
            )
            if process.pop("_deviation", False):
                deviation_done = True
            if coaching:
                resistance = float(np.clip(resistance_base - 0.9 * (stage - 1) + rng.normal(0, 1.2), 0, 10))
                keep_p = float(np.clip(0.95 - resistance / 12, 0.05, 0.95))
                kept = int(rng.binomial(last_commitments, keep_p)) if last_commitments else 0
                commitments = int(rng.integers(1, 5))
                process.update(resistance=round(resistance), commitments_set=commitments, commitments_kept=kept)
                last_commitments = commitments
            sid = add_session(date, kind, status, modality, **process)
            last_attended = date
            true = _true_scores(base, stage, telehealth, p, registry)
            _schedule_measures(t, rng, client_id, sid, date, attended, service, hp, true, first, p)
            if coaching and (first or attended % 4 == 0):
                for g in goal_ids:
                    attainment = int(np.clip(round(-1.3 + 0.65 * (stage - 1) + rng.normal(0, 0.7)), -2, 2))
                    t.goals.append(
                        {
                            "client_id": client_id,
                            "goal_id": g,
                            "weight": goal_weights[g],
                            "set_on": start,
                            "rated_on": date,
                            "attainment": -1 if first else attainment,
                        }
                    )
            if closing:
                end_kind = "planned"
                break
            if not first and rng.random() < p.dropout_hazard * (1.3 if resistance_base > 7 else 1.0):
                end_kind = "dropout"
                break
        gap = 7 if rng.random() > 0.15 else 14
        date = date + dt.timedelta(days=gap + int(rng.integers(-1, 2)))

    if end_kind == "planned" and last_attended is not None:
        discharge = min(as_of, last_attended + dt.timedelta(days=int(rng.integers(0, 8))))
        if coaching and resistance_base > 7.5 and rng.random() < 0.5:
            reason = "referred_to_therapy"
        else:
            reason = str(rng.choice(["completed", "mutual_agreement", "referred_to_coaching"], p=[0.72, 0.23, 0.05]))
        client.update(discharge_date=discharge, discharge_reason=reason)
    elif end_kind == "dropout" and last_attended is not None:
        # Half are formally discharged; the rest simply stop coming (lapsed when 42 days pass).
        if rng.random() < 0.5:
            discharge = min(as_of, last_attended + dt.timedelta(days=int(rng.integers(7, 40))))
            client.update(
                discharge_date=discharge,
                discharge_reason=str(rng.choice(["client_withdrew", "lost_contact"])),
            )
        else:
            end_kind = "lapsed" if (as_of - last_attended).days > 42 else "open"
    t.clients.append(client)
    t.episodes.append(
        {
            "client_id": client_id,
            "consultation_only": False,
            "service": service,
            "helping_professional": hp,
            "telehealth": telehealth,
            "attended": attended,
            "stage": stage,
            "milestones": {str(k): d.isoformat() for k, d in milestone_dates.items()},
            "end": end_kind,
            "deviation": deviation_done,
        }
    )


def _process_markers(
    rng: np.random.Generator, stage: int, advanced_to: int | None, deviate_now: bool, p: Params
) -> dict[str, Any]:
    """Clinician ratings that follow the latent stage; milestone sessions meet the milestone definitions."""
    trust = (
        int(np.clip(round(3.5 + rng.normal(0, 1.2)), 0, 6))
        if stage == 1
        else int(np.clip(round(7.5 + 0.4 * stage + rng.normal(0, 0.8)), 7, 10))
    )
    markers: dict[str, Any] = {
        "focus_goal": min(stage, 5) if rng.random() > 0.1 else int(rng.integers(1, 6)),
        "self_energy": int(np.clip(round(2.5 + 1.3 * stage + rng.normal(0, 1.0)), 0, 10)),
        "protector_trust": trust,
        "polarization": int(np.clip(round(8.5 - 1.4 * stage + rng.normal(0, 1.0)), 0, 10)),
        "unblending": str(rng.choice(["none", "partial"], p=[0.6, 0.4]))
        if stage == 1
        else str(rng.choice(["partial", "full"], p=[0.4, 0.6])),
        "exile_contact": False,
        "protector_permission": None,
        "exile_witnessed": False,
        "unburdening": "none",
        "protector_release": "none",
    }
    if stage >= 3:  # exiles are contacted, with permission, once protectors allow it (M2 at the move to stage 3)
        markers.update(exile_contact=True, protector_permission=True, exile_witnessed=bool(rng.random() < 0.6))
    if advanced_to == 3:  # M2 reached: exile contact with permission
        markers.update(exile_contact=True, protector_permission=True)
    if advanced_to == 4:  # M3 reached: an unburdening
        markers.update(
            unburdening=str(rng.choice(["partial", "complete"], p=[0.6, 0.4])),
            exile_contact=True,
            protector_permission=True,
        )
    if advanced_to == 5:  # M4 reached: protector release
        markers.update(protector_release=str(rng.choice(["partial", "complete"], p=[0.5, 0.5])))
    if stage >= 4 and advanced_to is None and rng.random() < 0.3:
        markers.update(unburdening="partial")
    if deviate_now:
        # Exile contact before protector trust; sometimes without the protectors' permission.
        markers.update(exile_contact=True, protector_permission=bool(rng.random() > 0.5), _deviation=True)
    if not markers["exile_contact"]:
        markers["protector_permission"] = None
        markers["exile_witnessed"] = None
    return markers


def _schedule_measures(
    t: _Tables,
    rng: np.random.Generator,
    client_id: str,
    session_id: str,
    date: dt.date,
    attended: int,
    service: str,
    hp: bool,
    true: dict[tuple[str, str], float],
    first: bool,
    p: Params,
) -> None:
    """PHQ-9 and GAD-7 most sessions (every 4th in coaching), IFS Self every 4th, ProQOL every 8th for
    helping professionals, the 8 Cs check-in every 2nd session (every session in coaching)."""
    coaching = service == "coaching"
    due = {
        "phq9": first or (attended % 4 == 1 if coaching else rng.random() < 0.8),
        "gad7": first or (attended % 4 == 1 if coaching else rng.random() < 0.8),
        "ifs_self": first or attended % 4 == 1,
        "proqol5": hp and (first or attended % 8 == 1),
        "self_energy_8c": (not first) and (coaching or attended % 2 == 0),
    }
    for instrument, is_due in due.items():
        if not is_due:
            continue
        pre_intake = first and instrument != "self_energy_8c" and rng.random() < 0.3
        t.admins.append(
            {
                "client_id": client_id,
                "session_id": None if pre_intake else session_id,
                "instrument": instrument,
                "administered_on": date - dt.timedelta(days=int(rng.integers(1, 10))) if pre_intake else date,
                "true": {s: v for (i, s), v in true.items() if i == instrument},
            }
        )


def _item_noise_sd(k: int, alpha: float, true_total_sd: float, method: str) -> float:
    """Error SD per item so that k parallel items have Cronbach's alpha ``alpha``."""
    r = alpha / (k - alpha * (k - 1))
    item_true_sd = true_total_sd / k if method == "sum" else true_total_sd
    return item_true_sd * math.sqrt(1 / r - 1)


def _measures_frame(t: _Tables, rng: np.random.Generator, p: Params, registry: Registry) -> pl.DataFrame:
    """Item answers for every administration, vectorised per instrument and scale."""
    frames = []
    by_instrument: dict[str, list[dict[str, Any]]] = {}
    for admin in t.admins:
        by_instrument.setdefault(admin["instrument"], []).append(admin)
    for inst_id in sorted(by_instrument):
        admins = by_instrument[inst_id]
        inst = registry[inst_id]
        keys = pl.DataFrame(
            {
                "client_id": [a["client_id"] for a in admins],
                "session_id": [a["session_id"] for a in admins],
                "administered_on": [a["administered_on"] for a in admins],
            },
            schema={"client_id": pl.String, "session_id": pl.String, "administered_on": pl.Date},
        )
        for scale in inst.scales.values():
            latent = LATENT[(inst_id, scale.id)]
            alpha = scale.reliability or p.target_alpha_8c
            sd_e = _item_noise_sd(len(scale.items), alpha, latent.sd, scale.method)
            true = np.array([a["true"][scale.id] for a in admins])
            centre = true / len(scale.items) if scale.method == "sum" else true
            for item in scale.items:
                # Risk items (PHQ-9 item 9) are endorsed far less often than the others.
                item_centre = centre - RISK_ITEM_OFFSET if item in inst.risk_items else centre
                noisy = np.clip(
                    np.rint(item_centre + rng.normal(0, sd_e, size=len(admins))), inst.item_min, inst.item_max
                )
                if item in inst.reverse_items:
                    noisy = inst.item_min + inst.item_max - noisy
                skipped = rng.random(len(admins)) < p.skip_item_p
                values = np.where(skipped, np.nan, noisy)
                frames.append(
                    keys.with_columns(
                        instrument=pl.lit(inst_id),
                        item=pl.lit(item),
                        value=pl.Series(values).fill_nan(None),
                    )
                )
    measures = (
        pl.concat(frames) if frames else pl.DataFrame(schema={c: pl.String for c in TABLES_BY_NAME["measures"].columns})
    )
    # Some PHQ-9 administrations carry a supplied total, which must agree with complete items.
    phq = measures.filter(pl.col("instrument") == "phq9")
    totals = (
        phq.group_by("client_id", "session_id", "administered_on", maintain_order=True)
        .agg(pl.col("value").sum().alias("value"), pl.col("value").null_count().alias("_skipped"))
        .filter(pl.col("_skipped") == 0)
    )
    chosen = totals.filter(pl.Series(rng.random(totals.height) < p.supplied_total_rate))
    supplied = chosen.select(
        "client_id",
        "session_id",
        "administered_on",
        instrument=pl.lit("phq9"),
        item=pl.lit("total"),
        value="value",
    )
    return pl.concat([measures, supplied.cast(measures.schema)]).select(TABLES_BY_NAME["measures"].columns)


def generate(
    n_clients: int, seed: int, as_of: dt.date, params: Params | None = None, registry: Registry | None = None
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """The four input tables and the ground truth, deterministically from ``seed``."""
    p = params or Params()
    registry = registry or default_registry()
    t = _simulate(n_clients, seed, as_of, p, registry)
    rng = np.random.default_rng(seed + 1)
    dtypes = {name: spec.dtypes for name, spec in TABLES_BY_NAME.items()}
    clients = pl.DataFrame(t.clients, schema=dtypes["clients"])
    sessions = pl.DataFrame(t.sessions, schema=dtypes["sessions"], infer_schema_length=None)
    goals = pl.DataFrame(t.goals, schema=dtypes["goals"]) if t.goals else pl.DataFrame(schema=dtypes["goals"])
    measures = _measures_frame(t, rng, p, registry)
    tables = {"clients": clients, "sessions": sessions, "measures": measures, "goals": goals}
    return tables, _ground_truth(t, tables, n_clients, seed, as_of, p)


def _ground_truth(
    t: _Tables, tables: dict[str, pl.DataFrame], n_clients: int, seed: int, as_of: dt.date, p: Params
) -> dict[str, Any]:
    episodes = [e for e in t.episodes if not e["consultation_only"]]
    treated = [e for e in episodes if e["attended"] >= 2]
    n = len(episodes)
    reach = {f"M{k}": sum(1 for e in episodes if e["stage"] > k) / n if n else 0.0 for k in range(1, 5)}
    ended = sum(1 for e in episodes if e["end"] in ("planned", "dropout"))
    lapsed = sum(1 for e in episodes if e["end"] == "lapsed")
    unplanned = sum(1 for e in episodes if e["end"] == "dropout")
    effects: dict[str, Any] = {}
    first_last: dict[tuple[str, str, str], tuple[float, float]] = {}
    for admin in t.admins:  # administrations are appended in date order per client
        for scale, value in admin["true"].items():
            key = (admin["client_id"], admin["instrument"], scale)
            first_last[key] = (first_last[key][0], value) if key in first_last else (value, value)
    tele = {e["client_id"]: e["telehealth"] for e in episodes}
    counts: dict[tuple[str, str], int] = {}
    for admin in t.admins:
        k = (admin["client_id"], admin["instrument"])
        counts[k] = counts.get(k, 0) + 1
    for (inst, scale), latent in LATENT.items():
        pairs = [
            (v, tele[c]) for (c, i, s), v in first_last.items() if i == inst and s == scale and counts[(c, i)] >= 2
        ]
        if not pairs:
            continue
        pre = np.array([v[0] for v, _ in pairs])
        post = np.array([v[1] for v, _ in pairs])
        is_tele = np.array([x for _, x in pairs])
        change = post - pre
        sign = -1.0 if latent.lower_is_better else 1.0
        entry = {
            "n_paired": len(pairs),
            "true_mean_baseline": float(pre.mean()),
            "true_mean_latest": float(post.mean()),
            "true_mean_change": float(change.mean()),
            "true_sd_baseline": float(pre.std(ddof=1)) if len(pre) > 1 else None,
            "true_standardized_change": float(sign * change.mean() / pre.std(ddof=1)) if len(pre) > 1 else None,
            "true_mean_change_in_person": float(change[~is_tele].mean()) if (~is_tele).any() else None,
            "true_mean_change_telehealth": float(change[is_tele].mean()) if is_tele.any() else None,
        }
        effects[f"{inst}.{scale}"] = entry
    return {
        "seed": seed,
        "n_clients": n_clients,
        "as_of": as_of.isoformat(),
        "params": asdict(p),
        "latent_baselines": {f"{k[0]}.{k[1]}": asdict(v) for k, v in LATENT.items()},
        "counts": {name: frame.height for name, frame in tables.items()},
        "episodes_with_intake": n,
        "consultation_only_episodes": len(t.episodes) - n,
        "true_effects": effects,
        "telehealth_vs_in_person": {
            "planted_effect_ratio": p.telehealth_effect_ratio,
            "meaning": "telehealth episodes' latent improvement is this fraction of in-person improvement; "
            "modality is the client's preferred modality (90% of sessions follow it)",
        },
        "milestone_reach_rates": {
            "denominator": "episodes with an intake",
            **reach,
            "treated_denominator": len(treated),
        },
        "dropout": {
            "ended": ended,
            "lapsed": lapsed,
            "unplanned": unplanned,
            "dropout_rate": (unplanned + lapsed) / (ended + lapsed) if ended + lapsed else None,
            "note": "unplanned = dropouts discharged as withdrew/lost contact; lapsed = undischarged dropouts whose "
            "last attended session is over 42 days before the as-of date (the others are still open)",
        },
        "sequence_deviation_episodes": sum(1 for e in episodes if e["deviation"]),
    }


def as_exported(frame: pl.DataFrame) -> pl.DataFrame:
    """Integral answers as integers ("3", not "3.0"), as a practice's CSV export would write them."""
    integral = [
        c
        for c, t in frame.schema.items()
        if t == pl.Float64 and frame.select((pl.col(c).round() == pl.col(c)).all()).item() is not False
    ]
    return frame.with_columns(pl.col(integral).cast(pl.Int64))


def write_batch(out: Path, n_clients: int, seed: int, as_of: dt.date, fmt: str = "csv") -> dict[str, int]:
    """Write the batch folder (tables, batch.toml, ground_truth.json); returns row counts per table."""
    tables, truth = generate(n_clients, seed, as_of)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        target = out / f"{name}.{fmt}"
        for stale in out.glob(f"{name}.*"):
            stale.unlink()
        if fmt == "csv":
            as_exported(frame).write_csv(target, date_format="%Y-%m-%d")
        else:
            frame.write_parquet(target)
    io.write_text_atomic(
        f'exported_at = {as_of.isoformat()}\nsource = "ifs-outcomes demo --seed {seed} --clients {n_clients}"\n',
        out / "batch.toml",
    )
    io.write_text_atomic(json.dumps(truth, indent=2, sort_keys=True) + "\n", out / GROUND_TRUTH_FILE)
    return {name: frame.height for name, frame in tables.items()}
