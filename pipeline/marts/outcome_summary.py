"""outcome_summary — pre/post outcomes per instrument scale for two populations, named as services name them:
finished treatment in a period, and in treatment now.

Purpose: are clients getting better — by service, modality, location, practice and cohort, quarter by quarter — in
figures a director can compare between periods?
Grain: one row per population × period_type × period × dimension × level × instrument × scale.
Populations:
- `finished_treatment`: episodes discharged in the period with at least `outcomes.finished_min_attended` (2)
  attended treatment sessions (NHS Talking Therapies). A closed period changes only when something about its own
  episodes changes (late data, a corrected discharge date), and `revision` says how often it did
  (`pipeline/marts/revisions.py`: 0 = as first published once the period had ended). Lapsed episodes —
  open, no attended session for `engagement.lapse_days`, hence no discharge date — are not in it (lapse depends
  on the as-of date) and are counted beside it (`lapsed`, by the month of their last attended session).
- `in_treatment`: open, not lapsed episodes, their change so far at the as-of date (period_type `as_of`, period =
  the as-of date).
Inputs: client_change (pairs, flags, categories, each scale's rule), episodes (dimensions, endings).
Reference: DESIGN 5.2-5.4 and §0; docs/indicators.md §3-7, §11. Rules used: pairing `change.pair_baseline_latest`
(through client_change); reliable change `client_change.reliably_improved` (the scale's rule, published on every row
as `rc_rule` and `rc_threshold`: points met or exceeded, or the Jacobson-Truax difference exceeded); clinical status
`change.is_clinical` (a score on the cutoff is clinical); d, g and d_z `change.standardized_mean_change`,
`change.hedges_g` and their CIs `change.delta_method_ci_from_moments` from sums computed here.
Metrics, each with its denominator beside it: recovery = clinical at baseline and not at the latest
(/ clinical_baseline); reliable improvement and deterioration (/ categorised: paired episodes whose scale has a rule);
reliable recovery = the Jacobson category `recovered`: reliably improved and recovered (/ clinical_baseline).
Missing data: an episode without a baseline is not counted; unpaired ones count in `episodes` only; a scale without a
rule has no categories (`categorised` 0) and no reliable-change rates.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.change import CATEGORIES, delta_method_ci_from_moments, hedges_g, hedges_j, standardized_mean_change
from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart, with_rates
from pipeline.marts.rollup import rollup

POPULATIONS = ("finished_treatment", "in_treatment")
CI_METHOD = "normal, nonparametric delta-method SE"
COUNTS = ("episodes", "paired", "categorised", *CATEGORIES, "reliably_improved", "reliably_deteriorated",
          "clinical_baseline", "recovery", "lapsed")  # fmt: skip
#: Scores enter the sums as integers of 1e-5 points, so that every sum is exact and the same whatever order the
#: rows are added in: a closed period's figures stay bit-identical until its data change (`revisions`).
FIXED_POINT = 100_000
EFFECT_SIZES = ("d", "d_ci_low", "d_ci_high", "g", "g_ci_low", "g_ci_high", "dz", "dz_ci_low", "dz_ci_high")

RATES_WITH_CI = ("recovery_rate", "reliable_improvement_rate", "reliable_deterioration_rate", "reliable_recovery_rate")
LAYOUT = TableLayout(
    keys=("population", "period_type", "period", "dimension", "level", "instrument", "scale"),
    counts=COUNTS,
    rates=(
        ("paired_rate", "paired", "episodes"),
        ("reliable_improvement_rate", "reliably_improved", "categorised"),
        ("reliable_deterioration_rate", "reliably_deteriorated", "categorised"),
        ("recovery_rate", "recovery", "clinical_baseline"),
        ("reliable_recovery_rate", "recovered", "clinical_baseline"),
    ),
    statistics=(
        ("mean_baseline", "paired"), ("mean_latest", "paired"), ("mean_change", "paired"), ("sd_baseline", "paired"),
        ("sd_change", "paired"),
        *((e, "paired") for e in EFFECT_SIZES),
    ),
    row_sums=(  # every relation among the counts; `~` marks an unpublished remainder, itself a count of people
        ("episodes", ("paired", "~unpaired")),
        ("paired", ("categorised", "~uncategorised")),
        ("categorised", CATEGORIES),
        ("reliably_improved", ("recovered", "improved")),
        ("reliably_deteriorated", ("deteriorated", "harmed")),
        ("paired", ("clinical_baseline", "~not_clinical_at_baseline")),
        ("clinical_baseline", ("recovery", "~not_recovered")),
        ("recovery", ("recovered", "~recovery_without_reliable_change")),
    ),
    hierarchy=("period", "parent_period"),
    companions=tuple((f"{r}_ci_{end}", r) for r in RATES_WITH_CI for end in ("low", "high")),
)  # fmt: skip

BASE = """
    SELECT c.*, e.practice, e.service, e.modality, e.location, e.cohort, e.discharge_date, e.last_attended_date,
        e.outcome_population AS role
    FROM client_change AS c JOIN episodes AS e USING (client_id)
    WHERE c.baseline_date IS NOT NULL
"""
FINISHED = f"""
    SELECT *, CASE WHEN role = 'finished_treatment' THEN discharge_date ELSE last_attended_date END AS period_date
    FROM ({BASE}) WHERE role IN ('finished_treatment', 'lapsed')
"""
IN_TREATMENT = f"SELECT * FROM ({BASE}) WHERE role = 'in_treatment'"


def _aggregates(member: str) -> list[str]:
    """The aggregates over the population's members (``member``: a SQL condition); `lapsed` beside them."""
    paired = f"{member} AND paired"
    u, v, w = (f"round({c} * {FIXED_POINT})::HUGEINT" for c in ("change", "baseline_score", "latest_score"))
    moments = {"su": (u,), "sv": (v,), "suu": (u, u), "svv": (v, v), "suv": (u, v), "suvv": (u, v, v),
               "svvv": (v, v, v), "svvvv": (v, v, v, v), "suuu": (u, u, u), "suuuu": (u, u, u, u)}  # fmt: skip

    def exact(*factors: str) -> str:
        """Σ of the product in exact integer arithmetic (HUGEINT), as a double in scale points."""
        product = " * ".join(factors)
        return f"(coalesce(sum({product}) FILTER (WHERE {paired}), 0)::DOUBLE / {FIXED_POINT}.0 ^ {len(factors)})"

    def sd(x: str) -> str:
        """The sample SD from exact sums: sqrt((n·Σx² − (Σx)²) / (n(n − 1)))."""
        n, s1, s2 = (
            f"count(*) FILTER (WHERE {paired})",
            f"sum({x}) FILTER (WHERE {paired})",
            f"sum({x} * {x}) FILTER (WHERE {paired})",
        )
        return (
            f"CASE WHEN {n} > 1 THEN sqrt(({n} * {s2} - {s1} * {s1})::DOUBLE / ({n} * ({n} - 1))) / {FIXED_POINT} END"
        )

    def mean(x: str) -> str:
        return f"CASE WHEN count(*) FILTER (WHERE {paired}) > 0 THEN {exact(x)} / count(*) FILTER (WHERE {paired}) END"

    return [
        f"count(*) FILTER (WHERE {member}) AS episodes",
        f"count(*) FILTER (WHERE {paired}) AS paired",
        f"count(*) FILTER (WHERE {paired} AND category IS NOT NULL) AS categorised",
        *[f"count(*) FILTER (WHERE {paired} AND category = '{c}') AS {c}" for c in CATEGORIES],
        f"count(*) FILTER (WHERE {paired} AND reliably_improved) AS reliably_improved",
        f"count(*) FILTER (WHERE {paired} AND reliably_deteriorated) AS reliably_deteriorated",
        f"count(*) FILTER (WHERE {paired} AND clinical_baseline) AS clinical_baseline",
        f"count(*) FILTER (WHERE {paired} AND clinical_baseline AND NOT clinical_latest) AS recovery",
        "count(*) FILTER (WHERE role = 'lapsed') AS lapsed",
        f"{mean(v)} AS mean_baseline",
        f"{mean(w)} AS mean_latest",
        f"{mean(u)} AS mean_change",
        f"{sd(v)} AS sd_baseline",
        f"{sd(u)} AS sd_change",
        *[f"{exact(*factors)} AS _{name}" for name, factors in moments.items()],
        "bool_and(higher_is_better) AS _higher_is_better",
        "any_value(rc_rule) AS rc_rule",
        "any_value(rc_threshold) AS rc_threshold",
    ]


def build(ctx: Context) -> pl.DataFrame:
    params, by = ctx.params, ("instrument", "scale")
    finished = rollup(ctx.con, FINISHED, _aggregates("role = 'finished_treatment'"), params, by=by,
                      period_date="period_date")  # fmt: skip
    finished = finished.with_columns(population=pl.lit("finished_treatment"))
    finished = finished.with_columns(revision=pl.lit(None, pl.Int64))  # set at publication: `revisions`
    current = rollup(ctx.con, IN_TREATMENT, _aggregates("true"), params, by=by).with_columns(
        population=pl.lit("in_treatment"), period_type=pl.lit("as_of"), period=pl.lit(ctx.as_of.isoformat()),
        parent_period=pl.lit(None, pl.String), revision=pl.lit(None, pl.Int64),
    )  # fmt: skip
    table = pl.concat([finished, current.select(finished.columns)], how="vertical_relaxed")
    table = with_rates(table.with_columns(pl.col(list(COUNTS)).cast(pl.Int64)), LAYOUT, with_ci=RATES_WITH_CI)
    return with_effect_sizes(table).sort(*LAYOUT.keys)


def with_effect_sizes(table: pl.DataFrame) -> pl.DataFrame:
    """d, g and d_z with their 95% CIs for every row with paired episodes, from the sums the SQL computed (the
    `_su`, `_sv`, … columns, dropped here): the delta method, exact for any n in O(1) per row."""
    n = table["paired"].to_numpy().astype(float)
    sign = np.where(table["_higher_is_better"].fill_null(True).to_numpy(), 1.0, -1.0)
    sums = {k: table[f"_{k}"].to_numpy() for k in ("su", "sv", "suu", "svv", "suv", "suvv", "svvv", "svvvv")}
    _, d_lo, d_hi = delta_method_ci_from_moments({"n": n, **sums}, sign)
    j = np.where(n >= 3, hedges_j(np.maximum(n, 3)), np.nan)
    dz_sums = {"n": n, "su": sums["su"], "sv": sums["su"], "suu": sums["suu"], "svv": sums["suu"],
               "suv": sums["suu"], "suvv": table["_suuu"].to_numpy(), "svvv": table["_suuu"].to_numpy(),
               "svvvv": table["_suuuu"].to_numpy()}  # fmt: skip
    dz, dz_lo, dz_hi = delta_method_ci_from_moments(dz_sums, sign)
    d = standardized_mean_change(table["mean_change"], table["sd_baseline"], table["_higher_is_better"].fill_null(True))
    columns = {"d": d, "d_ci_low": d_lo, "d_ci_high": d_hi, "g": hedges_g(d, n), "g_ci_low": j * d_lo,
               "g_ci_high": j * d_hi, "dz": dz, "dz_ci_low": dz_lo, "dz_ci_high": dz_hi}  # fmt: skip
    out = table.with_columns(pl.Series(k, v, dtype=pl.Float64).fill_nan(None) for k, v in columns.items())
    out = out.with_columns(pl.when(pl.col("d").is_not_null()).then(pl.lit(CI_METHOD)).alias("ci_method"))
    return out.drop([c for c in out.columns if c.startswith("_")])


MART = Mart("outcome_summary", "aggregate", build, LAYOUT)
