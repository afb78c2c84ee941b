"""outcomes_by_theme — paired outcomes per presenting theme (the helping professionals' themes, seed 000).

Purpose: how do outcomes differ for burnout, compassion fatigue, secondary trauma, imposter feelings, …?
Grain: one row per theme × instrument × scale, over the episodes that finished treatment (all time: discharged after
at least `outcomes.finished_min_attended` attended sessions, `episodes.outcome_population`).
Inputs: client_change (paired episodes), clients (presenting_themes), episodes (outcome_population).
Reference: DESIGN 5.9; docs/indicators.md §12. An episode with several themes counts under each of them, so the
themes overlap and do not add up to a total.
Rates and their denominators as in outcome_summary: reliable improvement / categorised (paired with a rule); recovery
and reliable recovery (`recovered`) / clinical_baseline.
Missing data: episodes without a theme are not counted; a scale without a rule has no categories.
"""

from __future__ import annotations

import polars as pl

from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart, with_rates

LAYOUT = TableLayout(
    keys=("theme", "instrument", "scale"),
    counts=("paired", "categorised", "reliably_improved", "clinical_baseline", "recovery", "recovered"),
    rates=(
        ("reliable_improvement_rate", "reliably_improved", "categorised"),
        ("recovery_rate", "recovery", "clinical_baseline"),
        ("reliable_recovery_rate", "recovered", "clinical_baseline"),
    ),
    statistics=(("mean_change", "paired"),),
    dimension=None,
    row_sums=(  # `~` marks an unpublished remainder, itself a count of people
        ("paired", ("categorised", "~uncategorised")),
        ("categorised", ("reliably_improved", "~not_reliably_improved")),
        ("paired", ("clinical_baseline", "~not_clinical_at_baseline")),
        ("clinical_baseline", ("recovery", "~not_recovered")),
        ("recovery", ("recovered", "~recovery_without_reliable_change")),
    ),
)

SQL = """
    WITH themes AS (
        SELECT client_id, trim(unnest(string_split(presenting_themes, ';'))) AS theme
        FROM clients WHERE presenting_themes IS NOT NULL
    )
    SELECT t.theme, c.instrument, c.scale,
        count(*) AS paired,
        count(*) FILTER (WHERE c.category IS NOT NULL) AS categorised,
        count(*) FILTER (WHERE c.reliably_improved) AS reliably_improved,
        count(*) FILTER (WHERE c.clinical_baseline) AS clinical_baseline,
        count(*) FILTER (WHERE c.clinical_baseline AND NOT c.clinical_latest) AS recovery,
        count(*) FILTER (WHERE c.category = 'recovered') AS recovered,
        avg(c.change) AS mean_change
    FROM client_change AS c JOIN themes AS t USING (client_id) JOIN episodes AS e USING (client_id)
    WHERE c.paired AND t.theme <> '' AND e.outcome_population = 'finished_treatment'
    GROUP BY t.theme, c.instrument, c.scale
    ORDER BY t.theme, c.instrument, c.scale
"""


def build(ctx: Context) -> pl.DataFrame:
    return with_rates(ctx.query(SQL), LAYOUT)


MART = Mart("outcomes_by_theme", "aggregate", build, LAYOUT)
