"""alerts — early-warning flags for a clinician's review: not on track, reliable deterioration, a positive risk
item (PHQ-9 item 9). NOT a safety system: every view that shows them says so (`CAVEAT`).

Purpose: point clinicians at the episodes in their own caseload that may need a look.
Grain: one row per paired episode × instrument × scale.
Inputs: client_change (paired episodes, reliable deterioration), not_on_track, risk_answers (the registry's risk
items), clients (open or not).
Reference: DESIGN 5.10; docs/indicators.md §12 (settings section alerts).
Missing data: not assessed (null) where too few other episodes exist at that session number; a skipped risk item
is `risk_unanswered`, never a positive flag; risk columns are empty on scales of instruments without risk items.
"""

from __future__ import annotations

import polars as pl

from pipeline.marts.base import Context, Mart

CAVEAT = (
    "Flags come from exported batch data that may be weeks old. They support clinical review; they are not a "
    "safety system and do not replace clinical judgement or a risk assessment."
)

SQL = """
    SELECT c.client_id, c.instrument, c.scale, c.latest_date, c.latest_session_number, c.change,
        c.reliably_deteriorated, n.reference_n, n.reference_pooled, n.not_on_track,
        r.risk_items, r.risk_date, r.risk_value, r.risk_positive, r.risk_unanswered,
        k.discharge_date IS NULL AS episode_open,
        coalesce(n.not_on_track, false) OR coalesce(c.reliably_deteriorated, false)
            OR coalesce(r.risk_positive, false) AS any_flag,
        $caveat AS caveat
    FROM client_change AS c
    LEFT JOIN not_on_track AS n USING (client_id, instrument, scale)
    LEFT JOIN risk_answers AS r USING (client_id, instrument)
    LEFT JOIN clients AS k USING (client_id)
    WHERE c.paired
    ORDER BY c.client_id, c.instrument, c.scale
"""


def build(ctx: Context) -> pl.DataFrame:
    return ctx.query(SQL, caveat=CAVEAT)


MART = Mart("alerts", "clinical", build)
