"""nhs_outcomes — the NHS Talking Therapies composite outcome metrics of finished treatment, per period.

Purpose: the figures services report — recovery, reliable improvement, reliable recovery and reliable deterioration
on a measure pair (PHQ-9 and GAD-7 by default) — for the episodes that finished treatment in a quarter or month.
Grain: one row per period_type × period × dimension × level (period: the discharge date's).
Inputs: client_change (each episode's pair of scales: paired, clinical at baseline and latest, reliable change),
episodes (endings, attended treatment sessions, dimensions); settings `outcomes.nhs_instruments`,
`outcomes.finished_min_attended`.
Reference: NHS Talking Therapies Manual (v7, 2024) and its data-set definitions; DESIGN 5.3. Finished treatment =
discharged with at least two attended treatment sessions; the denominator of every rate is the finished episodes
with paired scores on both measures (`paired`; completeness = paired / finished); caseness at start = either measure
at or above its cutoff; recovery = at caseness at start and neither at the end (/ caseness); reliable improvement =
either measure reliably improved and neither reliably deteriorated (/ paired); reliable deterioration = the mirror;
reliable recovery = recovery and reliable improvement (/ caseness). Each measure's own reliable-change rule and
cutoff are the registry's (PHQ-9: 6 points, 10; GAD-7: 4 points, 8). The same metrics for the researcher:
`change.nhs_talking_therapies` (a test holds the two to each other).
A closed period's `revision`: how often its figures changed after first published (`pipeline/marts/revisions.py`).
Missing data: a finished episode without both measures paired counts in `finished` only.
"""

from __future__ import annotations

import polars as pl

from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart, with_rates
from pipeline.marts.rollup import rollup

COUNTS = ("finished", "paired", "caseness", "recovery", "reliable_improvement", "reliable_deterioration",
          "reliable_recovery")  # fmt: skip
RATES_WITH_CI = ("recovery_rate", "reliable_improvement_rate", "reliable_deterioration_rate", "reliable_recovery_rate")
LAYOUT = TableLayout(
    keys=("period_type", "period", "parent_period", "dimension", "level"),
    counts=COUNTS,
    rates=(
        ("paired_rate", "paired", "finished"),
        ("recovery_rate", "recovery", "caseness"),
        ("reliable_improvement_rate", "reliable_improvement", "paired"),
        ("reliable_deterioration_rate", "reliable_deterioration", "paired"),
        ("reliable_recovery_rate", "reliable_recovery", "caseness"),
    ),
    row_sums=(  # `~` marks an unpublished remainder, itself a count of people
        ("finished", ("paired", "~unpaired")),
        ("paired", ("caseness", "~not_caseness")),
        ("caseness", ("recovery", "~not_recovered")),
        ("recovery", ("reliable_recovery", "~recovery_without_reliable_improvement")),
        ("paired", ("reliable_improvement", "reliable_deterioration", "~neither")),
        ("reliable_improvement", ("reliable_recovery", "~improvement_without_recovery")),
    ),
    hierarchy=("period", "parent_period"),
    companions=tuple((f"{r}_ci_{end}", r) for r in RATES_WITH_CI for end in ("low", "high")),
)

SOURCE = """
    WITH pair AS (
        SELECT instrument, scale FROM registry_scales
        WHERE (instrument = $first AND scale = $first_scale) OR (instrument = $second AND scale = $second_scale)
    ),
    flags AS (
        SELECT c.client_id,
            count(*) = 2 AND bool_and(c.paired) AS paired,
            bool_or(c.clinical_baseline) AS caseness,
            bool_or(c.clinical_latest) AS clinical_end,
            bool_or(coalesce(c.reliably_improved, false)) AS any_improved,
            bool_or(coalesce(c.reliably_deteriorated, false)) AS any_deteriorated
        FROM client_change AS c JOIN pair USING (instrument, scale)
        GROUP BY c.client_id
    )
    SELECT e.client_id, e.discharge_date, e.practice, e.service, e.modality, e.location, e.cohort,
        coalesce(f.paired, false) AS paired, f.caseness, f.clinical_end, f.any_improved, f.any_deteriorated
    FROM episodes AS e LEFT JOIN flags AS f USING (client_id)
    WHERE e.outcome_population = 'finished_treatment'
"""
AGGREGATES = [
    "count(*) AS finished",
    "count(*) FILTER (WHERE paired) AS paired",
    "count(*) FILTER (WHERE paired AND caseness) AS caseness",
    "count(*) FILTER (WHERE paired AND caseness AND NOT clinical_end) AS recovery",
    "count(*) FILTER (WHERE paired AND any_improved AND NOT any_deteriorated) AS reliable_improvement",
    "count(*) FILTER (WHERE paired AND any_deteriorated AND NOT any_improved) AS reliable_deterioration",
    "count(*) FILTER (WHERE paired AND caseness AND NOT clinical_end AND any_improved AND NOT any_deteriorated) "
    "AS reliable_recovery",
]


def pair_scales(ctx: Context) -> dict[str, str]:
    """The measure pair from the settings, each with its scale (the instrument's only scale, else `total`)."""
    first, second = ctx.settings.outcomes.nhs_instruments
    scales: dict[str, str] = {}
    for key, instrument in (("first", first), ("second", second)):
        inst = ctx.registry.instruments.get(instrument)
        scale = "total" if inst is None or len(inst.scales) != 1 else next(iter(inst.scales))
        scales |= {key: instrument, f"{key}_scale": scale}
    return scales


def build(ctx: Context) -> pl.DataFrame:
    params = {**ctx.params, **pair_scales(ctx)}
    table = rollup(ctx.con, SOURCE, AGGREGATES, params, period_date="discharge_date")
    table = table.with_columns(revision=pl.lit(None, pl.Int64))  # set at publication: `revisions`
    first, second = ctx.settings.outcomes.nhs_instruments
    table = table.with_columns(pl.col(list(COUNTS)).cast(pl.Int64), pl.lit(f"{first}+{second}").alias("measures"))
    return with_rates(table, LAYOUT, with_ci=RATES_WITH_CI)


MART = Mart("nhs_outcomes", "aggregate", build, LAYOUT)
