"""outcomes_by_theme — paired outcomes per presenting theme (the helping professionals' themes, seed 000).

Purpose: how do outcomes differ for burnout, compassion fatigue, secondary trauma, imposter feelings, …?
Grain: one row per theme × instrument × scale.
Inputs: client_change (paired episodes), clients (presenting_themes).
Reference: DESIGN 5.9; docs/indicators.md §12. An episode with several themes counts under each of them, so the
themes overlap and do not add up to a total.
Missing data: episodes without a theme are not counted; reliably_improved counts only scales with a rule.
"""

from __future__ import annotations

import polars as pl

from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart

LAYOUT = TableLayout(
    keys=("theme", "instrument", "scale"),
    counts=("paired", "reliably_improved", "recovered"),
    rates=(("reliable_improvement_rate", "reliably_improved", "paired"),),
    statistics=(("mean_change", "paired"),),
    dimension=None,
)

SQL = """
    WITH themes AS (
        SELECT client_id, trim(unnest(string_split(presenting_themes, ';'))) AS theme
        FROM clients WHERE presenting_themes IS NOT NULL
    )
    SELECT t.theme, c.instrument, c.scale,
        count(*) AS paired,
        count(*) FILTER (WHERE c.reliably_improved) AS reliably_improved,
        count(*) FILTER (WHERE c.category = 'recovered') AS recovered,
        avg(c.change) AS mean_change,
        count(*) FILTER (WHERE c.reliably_improved) / count(*) AS reliable_improvement_rate
    FROM client_change AS c JOIN themes AS t USING (client_id)
    WHERE c.paired AND t.theme <> ''
    GROUP BY t.theme, c.instrument, c.scale
    ORDER BY t.theme, c.instrument, c.scale
"""


def build(ctx: Context) -> pl.DataFrame:
    return ctx.query(SQL)


MART = Mart("outcomes_by_theme", "aggregate", build, LAYOUT)
