"""The published tables: a documented contract (DESIGN 7). `docs/data-dictionary.md` is generated from this file.

Publishing projects every table onto exactly these columns, in this order (`conform`), so a column can neither
appear nor vanish without this contract — and the dictionary — changing with it. In aggregate tables every
protected column X has a companion boolean `X_suppressed`: true means X is hidden (NULL) by disclosure control
and is displayed as `<k`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

SUPPRESSED = "_suppressed"


@dataclass(frozen=True)
class PublishedTable:
    name: str
    file: str  # "aggregate" or "clinical"
    grain: str
    purpose: str
    columns: tuple[str, ...]
    protected: tuple[str, ...] = ()  # columns with an `_suppressed` companion (aggregate tables only)

    def all_columns(self) -> list[str]:
        return [*self.columns, *(f"{c}{SUPPRESSED}" for c in self.protected)]


SHARED: dict[str, str] = {
    "dimension": "the breakdown: overall, practice, service, modality, location or cohort",
    "level": "the value of the dimension (`all` for overall; `none` where an episode has no modality or location)",
    "period_type": "all, quarter or month",
    "period": "`all`, a quarter such as 2026-Q3 or a month such as 2026-09: of the latest administration "
    "(outcome_summary), of the session or event (engagement_by_period), or of the episode's start (the others)",
    "parent_period": "the period this one adds up to (a month's quarter; a quarter's `all`)",
    "instrument": "instrument id from the registry (phq9, gad7, proqol5, ifs_self, self_energy_8c)",
    "scale": "scale id within the instrument (total, burnout, …)",
    "client_id": "the practice's pseudonymous episode id",
    "as_of": "the warehouse's as-of date the indicators were computed at",
    "registry_version": "hash of the instrument registry files used",
    "warehouse_run_id": "the last warehouse load this publication reflects (a refresh republishes when it differs)",
    "settings_fingerprint": "a hash of the practice settings in force (`ifs-outcomes settings`); a change republishes",
    "code_version": "ifs-outcomes version (and git commit) that computed the numbers",
    "disclosure_k": "the disclosure threshold k in force",
    "disclosure_rule": "the disclosure rule in force, in words",
    "episodes": "episodes in the denominator of the table",
    "paired": "episodes with a baseline and a later administration",
    "mean_change": "mean of latest − baseline (scale points)",
    "reliably_improved": "paired episodes reliably improved (the scale's rule, docs/indicators.md §4)",
    "reliably_deteriorated": "paired episodes reliably deteriorated",
    "recovered": "reliably improved, clinical at baseline, not clinical at latest",
    "improved": "reliably improved, not recovered",
    "unchanged": "no reliable change",
    "deteriorated": "reliably deteriorated, not harmed",
    "harmed": "reliably deteriorated, not clinical at baseline, clinical at latest",
    "ci_low": "lower limit of the 95% confidence interval",
    "ci_high": "upper limit of the 95% confidence interval",
    "discharge_date": "date the episode ended (empty while open)",
    "discharge_reason": "why the episode ended",
    "caveat": "what the flags are and are not",
}

_PATTERNS: list[tuple[str, str]] = [
    (r"^reached_m(\d)$", "episodes that reached milestone M{0} in order (stage reached ≥ {0})"),
    (r"^reach_rate_m(\d)$", "reached_m{0} / episodes"),
    (r"^median_session_m(\d)$", "median attended session number at which M{0} was reached"),
    (r"^episodes_(.+)$", "episodes with at least one sequence deviation of kind {0}"),
    (r"^m(\d)_date$", "date milestone M{0} was reached (empty if not reached in order)"),
    (r"^m(\d)_session$", "attended treatment sessions up to and including the one where M{0} was reached"),
    (r"^m(\d)_days$", "days from the first attended treatment session to M{0}"),
    (r"^m(\d)_before_m(\d)$", "qualifying events for M{0} recorded before M{1} was reached (a sequence deviation)"),
    (r"^(baseline|latest)_(self_score_pomp|clinician_self_energy|polarization)$", "{1} at the {0} point"),
    (r"^change_(self_score_pomp|clinician_self_energy|polarization)$", "{0}: latest − baseline"),
    (r"^n_points_(.+)$", "points (administrations or rated sessions) of {0}"),
    (r"^slope_per_session_(.+)$", "OLS slope of {0} per attended session (empty with fewer than 3 points)"),
]


def _table(name: str, file: str, grain: str, purpose: str, columns: str, protected: str = "") -> PublishedTable:
    return PublishedTable(name, file, grain, purpose, tuple(columns.split()), tuple(protected.split()))


PUBLISHED: tuple[PublishedTable, ...] = (
    _table(
        "outcome_summary",
        "aggregate",
        "period_type × period × dimension × level × instrument × scale",
        "Pre/post outcomes: completeness, change categories, reliable change, recovery and effect size.",
        "period_type period parent_period instrument scale dimension level episodes paired recovered improved "
        "unchanged deteriorated harmed reliably_improved reliably_deteriorated clinical_baseline mean_baseline "
        "mean_latest mean_change sd_baseline d g paired_rate reliable_improvement_rate reliable_deterioration_rate "
        "recovery_rate d_ci_low d_ci_high",
        "episodes paired recovered improved unchanged deteriorated harmed reliably_improved reliably_deteriorated "
        "clinical_baseline paired_rate reliable_improvement_rate reliable_deterioration_rate recovery_rate "
        "mean_baseline mean_latest mean_change sd_baseline d g d_ci_low d_ci_high",
    ),
    _table(
        "milestone_funnel",
        "aggregate",
        "dimension × level",
        "How far episodes travel through the five goals of IFS work, in order, and sequence deviations.",
        "period_type period parent_period dimension level episodes reached_m1 reached_m2 reached_m3 reached_m4 "
        "reached_m5 episodes_m2_before_m1 "
        "episodes_m3_before_m2 episodes_m4_before_m3 episodes_m5_before_m4 "
        "episodes_exile_contact_without_permission median_session_m1 median_session_m2 reach_rate_m1 "
        "reach_rate_m2 reach_rate_m3 reach_rate_m4 reach_rate_m5",
        "episodes reached_m1 reached_m2 reached_m3 reached_m4 reached_m5 episodes_m2_before_m1 "
        "episodes_m3_before_m2 episodes_m4_before_m3 episodes_m5_before_m4 episodes_exile_contact_without_permission "
        "reach_rate_m1 reach_rate_m2 reach_rate_m3 reach_rate_m4 reach_rate_m5 median_session_m1 median_session_m2",
    ),
    _table(
        "milestone_curves",
        "aggregate",
        "milestone × unit × time",
        "Kaplan-Meier cumulative proportion reaching each milestone, censored at the last attended session; "
        "points only while at least k episodes are at risk.",
        "milestone unit time at_risk cumulative_reached ci_low ci_high",
    ),
    _table(
        "engagement_summary",
        "aggregate",
        "dimension × level",
        "Sessions, attendance, cadence, endings, lapse and dropout.",
        "dimension level episodes consultation_only with_intake scheduled attended cancelled no_show ended planned "
        "unplanned other_endings lapsed dropouts dropout_denominator episodes_with_cadence median_cadence_days "
        "mean_duration_min attendance_rate dropout_rate conversion_rate",
        "episodes consultation_only with_intake scheduled attended cancelled no_show ended planned unplanned "
        "other_endings lapsed dropouts dropout_denominator episodes_with_cadence attendance_rate dropout_rate "
        "conversion_rate median_cadence_days mean_duration_min",
    ),
    _table(
        "engagement_by_period",
        "aggregate",
        "period_type × period × dimension × level",
        "Treatment sessions by the session's month and quarter; intakes by intake month; endings by discharge month.",
        "period_type period parent_period dimension level scheduled attended cancelled no_show intakes "
        "planned_endings unplanned_endings other_endings attendance_rate",
        "scheduled attended cancelled no_show intakes planned_endings unplanned_endings other_endings attendance_rate",
    ),
    _table(
        "self_leadership_trajectory",
        "aggregate",
        "measure × session_number × dimension × level",
        "Mean Self score (POMP), clinician-rated Self-energy and polarization by attended session number.",
        "period_type period parent_period measure session_number dimension level n mean ci_low ci_high",
        "n mean ci_low ci_high",
    ),
    _table(
        "coaching_summary",
        "aggregate",
        "dimension × level",
        "Coaching episodes: GAS T-scores, commitment follow-through, choice points (practice-defined) and what "
        "followed.",
        "period_type period parent_period dimension level coaching_episodes with_gas with_follow_through "
        "choice_points referred_to_therapy "
        "continued_coaching ended_otherwise too_early mean_gas_t_baseline mean_gas_t_latest mean_gas_t_change "
        "mean_follow_through choice_point_rate",
        "coaching_episodes with_gas with_follow_through choice_points referred_to_therapy continued_coaching "
        "ended_otherwise too_early choice_point_rate mean_gas_t_baseline mean_gas_t_latest mean_gas_t_change "
        "mean_follow_through",
    ),
    _table(
        "outcomes_by_theme",
        "aggregate",
        "theme × instrument × scale",
        "Paired outcomes by presenting theme (themes overlap: an episode counts under each of its themes).",
        "theme instrument scale paired reliably_improved recovered mean_change reliable_improvement_rate",
        "paired reliably_improved recovered reliable_improvement_rate mean_change",
    ),
    _table(
        "change_density",
        "aggregate",
        "instrument × scale × dimension × level × cell",
        "Paired episodes on a baseline × latest score grid (the Jacobson plot without client-level points); "
        "cells of 1 to k−1 episodes are suppressed.",
        "instrument scale dimension level cell parent_cell baseline_bin latest_bin baseline_low baseline_high "
        "latest_low latest_high scale_min scale_max higher_is_better rc_threshold cutoff episodes",
        "episodes",
    ),
    _table(
        "data_quality",
        "aggregate",
        "batch × table × measure (× rule)",
        "Rows received, loaded, quarantined and collapsed, and quarantined rows by rule. Counts rows, not people: "
        "exempt from disclosure control.",
        "batch_id as_of table_name measure rule rows",
    ),
    _table(
        "publication",
        "aggregate",
        "one row",
        "What these numbers were computed with.",
        "as_of warehouse_run_id registry_version code_version settings_fingerprint disclosure_k disclosure_rule",
    ),
    _table(
        "client_change",
        "clinical",
        "episode × instrument × scale",
        "Baseline and latest score, reliable change, clinical status and category per episode.",
        "client_id instrument scale higher_is_better baseline_date baseline_score baseline_session_number "
        "latest_date latest_score latest_session_number n_administrations paired change rci reliably_improved "
        "reliably_deteriorated rc_rule rc_threshold rc_sd rc_sd_source reliability reliability_source cutoff "
        "cutoff_source clinical_baseline clinical_latest category registry_version",
    ),
    _table(
        "client_scores",
        "clinical",
        "episode × instrument × scale × administration",
        "Every scored administration with its session number and severity band: a client's trajectory.",
        "client_id instrument scale administered_on session_number score pomp band",
    ),
    _table(
        "milestones",
        "clinical",
        "episode",
        "When each IFS milestone was reached in order, stage reached and sequence deviations.",
        "client_id m1_date m1_session m1_days m2_date m2_session m2_days m3_date m3_session m3_days m4_date "
        "m4_session m4_days m5_date m5_session m5_days stage_reached first_session_date last_session last_days "
        "m2_before_m1 m3_before_m2 m4_before_m3 m5_before_m4 exile_contact_without_permission",
    ),
    _table(
        "alerts",
        "clinical",
        "episode × instrument × scale (paired)",
        "Early-warning flags for review: not on track, reliable deterioration, PHQ-9 item 9. Not a safety system.",
        "client_id instrument scale latest_date latest_session_number change reliably_deteriorated reference_n "
        "reference_pooled not_on_track item9_date item9_value item9_positive item9_unanswered episode_open "
        "any_flag caveat",
    ),
    _table(
        "self_leadership",
        "clinical",
        "episode",
        "Self score, clinician-rated Self-energy and polarization: baseline, latest, change, slope, and the "
        "practice-defined Self-leadership index.",
        "client_id baseline_self_score_pomp latest_self_score_pomp change_self_score_pomp n_points_self_score_pomp "
        "slope_per_session_self_score_pomp baseline_clinician_self_energy latest_clinician_self_energy "
        "change_clinician_self_energy n_points_clinician_self_energy slope_per_session_clinician_self_energy "
        "baseline_polarization latest_polarization change_polarization n_points_polarization "
        "slope_per_session_polarization index_baseline index_latest index_change index_label "
        "ifs_self_reliably_improved",
    ),
    _table(
        "coaching",
        "clinical",
        "coaching episode",
        "GAS T-scores, follow-through, resistance trend and the choice point per coaching episode.",
        "client_id attended_sessions gas_ratings gas_t_baseline gas_t_latest gas_t_change follow_through "
        "resistance_slope choice_point_date choice_point_session after_choice_point choice_point_label "
        "discharge_date discharge_reason",
    ),
    _table(
        "episode_engagement",
        "clinical",
        "episode",
        "Engagement facts and dimensions per episode.",
        "client_id practice_id clinician_id service helping_professional cohort consultation_only "
        "consultations_attended scheduled attended cancelled no_show attendance_rate first_attended_date "
        "last_attended_date median_gap_days in_person_attended telehealth_attended modality location "
        "mean_duration_min discharge_date discharge_reason ended ending lapsed",
    ),
    _table(
        "publication",
        "clinical",
        "one row",
        "What these numbers were computed with.",
        "as_of warehouse_run_id registry_version code_version settings_fingerprint disclosure_k disclosure_rule",
    ),
)

TABLE_DOCS: dict[str, str] = {
    "d": "standardized mean change, s·(M_latest − M_baseline)/SD_baseline, positive = better",
    "g": "Hedges' g = J·d",
    "d_ci_low": "lower limit of d's bootstrap 95% CI (all-time rows only)",
    "d_ci_high": "upper limit of d's bootstrap 95% CI (all-time rows only)",
    "clinical_baseline": "clinical at baseline (on the dysfunctional side of the cutoff or on it)",
    "mean_baseline": "mean baseline score of paired episodes",
    "mean_latest": "mean latest score of paired episodes",
    "sd_baseline": "SD (n − 1) of baseline scores of paired episodes",
    "paired_rate": "paired / episodes (paired-data completeness)",
    "reliable_improvement_rate": "reliably_improved / paired",
    "reliable_deterioration_rate": "reliably_deteriorated / paired",
    "recovery_rate": "recovered / paired episodes clinical at baseline",
    "consultation_only": "episodes whose consultation did not lead to an intake",
    "with_intake": "episodes with an intake",
    "scheduled": "scheduled treatment sessions (intake, regular, closing)",
    "attended": "attended treatment sessions",
    "cancelled": "cancelled treatment sessions",
    "no_show": "no-show treatment sessions",
    "ended": "episodes ended (discharged), with an intake",
    "planned": "planned endings",
    "unplanned": "unplanned endings (client withdrew, lost contact)",
    "other_endings": "endings of reason other",
    "intakes": "episodes whose intake fell in the period",
    "planned_endings": "planned endings in the period (by discharge date)",
    "unplanned_endings": "unplanned endings in the period (by discharge date)",
    "lapsed": "open episodes with no attended session in the 42 days before the as-of date",
    "dropouts": "unplanned endings + lapsed",
    "dropout_denominator": "ended + lapsed",
    "episodes_with_cadence": "episodes with at least two attended treatment sessions",
    "median_cadence_days": "median over episodes of the median days between attended sessions",
    "mean_duration_min": "mean session duration (minutes)",
    "attendance_rate": "attended / scheduled",
    "dropout_rate": "dropouts / dropout_denominator",
    "conversion_rate": "consultation → intake conversion: with_intake / episodes",
    "milestone": "milestone 1..5",
    "unit": "session (attended sessions) or days (from the first attended treatment session)",
    "time": "time in the unit",
    "at_risk": "episodes still at risk (not yet reached, not censored); always ≥ k",
    "cumulative_reached": "Kaplan-Meier cumulative proportion reaching the milestone by this time",
    "measure": "self_score_pomp, clinician_self_energy or polarization",
    "session_number": "attended treatment session number",
    "n": "episodes contributing a point",
    "mean": "mean of the measure",
    "coaching_episodes": "episodes with service coaching",
    "with_gas": "coaching episodes with a GAS rating",
    "with_follow_through": "coaching episodes with commitments to follow through",
    "choice_points": "coaching episodes that reached a choice point (practice-defined)",
    "referred_to_therapy": "after the choice point: ended referred to therapy",
    "continued_coaching": "after the choice point: 3 or more further attended sessions",
    "ended_otherwise": "after the choice point: ended another way",
    "too_early": "after the choice point: open with fewer than 3 further sessions",
    "mean_gas_t_baseline": "mean first GAS T-score",
    "mean_gas_t_latest": "mean latest GAS T-score",
    "mean_gas_t_change": "mean change in GAS T-score",
    "mean_follow_through": "mean commitment follow-through",
    "choice_point_rate": "choice_points / coaching_episodes",
    "theme": "presenting theme",
    "cell": "`all` (the total of the grid) or `b<i>-l<j>`: baseline bin i, latest bin j (0-based)",
    "parent_cell": "the cell this one adds up to (`all`; empty for the total)",
    "baseline_bin": "baseline bin, 0-based (empty for the total)",
    "latest_bin": "latest bin, 0-based (empty for the total)",
    "baseline_low": "lower edge of the baseline bin (inclusive)",
    "baseline_high": "upper edge of the baseline bin (exclusive, except the top bin)",
    "latest_low": "lower edge of the latest bin (inclusive)",
    "latest_high": "upper edge of the latest bin (exclusive, except the top bin)",
    "scale_min": "lowest possible score of the scale",
    "scale_max": "highest possible score of the scale",
    "rc_threshold": "change in points needed for reliable change on this scale",
    "cutoff": "clinical cutoff of the scale (a score on it is clinical; empty if none)",
    "higher_is_better": "direction of the scale",
    "batch_id": "the batch",
    "table_name": "input table",
    "rule": "quarantine rule (for measure quarantined_by_rule)",
    "rows": "number of rows",
}

CLINICAL_DOCS: dict[str, str] = {
    "higher_is_better": "direction of the scale",
    "baseline_date": "date of the baseline administration (empty: no baseline within the window)",
    "baseline_score": "baseline score",
    "baseline_session_number": "attended treatment sessions up to the baseline",
    "latest_date": "date of the latest administration after baseline",
    "latest_score": "latest score",
    "latest_session_number": "attended treatment sessions up to the latest administration",
    "n_administrations": "scored administrations in the episode",
    "change": "latest − baseline",
    "rci": "Jacobson-Truax reliable change index",
    "rc_rule": "points (conventional threshold) or jacobson_truax",
    "rc_threshold": "change in points needed for reliable change",
    "rc_sd": "SD used for the RCI",
    "rc_sd_source": "registry, or baseline SD of paired episodes",
    "reliability": "reliability used",
    "reliability_source": "published, or estimated (Cronbach's alpha at baseline)",
    "cutoff": "clinical cutoff used (a score on it is clinical)",
    "cutoff_source": "caseness, or jacobson_truax_c",
    "clinical_latest": "clinical at latest",
    "category": "recovered, improved, unchanged, deteriorated or harmed",
    "stage_reached": "highest k with M1..Mk reached in order",
    "first_session_date": "first attended treatment session",
    "last_session": "attended treatment sessions so far (the censoring point)",
    "last_days": "days from the first to the last attended treatment session",
    "exile_contact_without_permission": "exile contacts recorded with protector_permission = false",
    "reference_n": "other episodes the change was compared with",
    "reference_pooled": "severity bands pooled (the band's cell had fewer than 30 episodes)",
    "not_on_track": "change among the worst 20% of other episodes at the same session number (empty: not assessed)",
    "item9_date": "date of the latest PHQ-9",
    "item9_value": "PHQ-9 item 9 at the latest PHQ-9",
    "item9_positive": "item 9 > 0",
    "item9_unanswered": "item 9 skipped at the latest PHQ-9 (not a risk flag)",
    "episode_open": "episode not discharged",
    "any_flag": "not on track, reliably deteriorated or item 9 positive",
    "index_baseline": "Self-leadership index at baseline (practice-defined, 0-100)",
    "index_latest": "Self-leadership index at latest",
    "index_change": "index_latest − index_baseline",
    "index_label": "how the index is labelled wherever shown",
    "ifs_self_reliably_improved": "IFS Self Scale reliably improved (paired episodes)",
    "attended_sessions": "attended treatment sessions",
    "gas_ratings": "GAS rating dates",
    "gas_t_baseline": "first GAS T-score",
    "gas_t_latest": "latest GAS T-score",
    "gas_t_change": "latest − first GAS T-score",
    "follow_through": "commitments kept / set in the previous attended session",
    "resistance_slope": "OLS slope of resistance per attended session",
    "choice_point_date": "date of the first choice point",
    "choice_point_session": "attended session number of the first choice point",
    "after_choice_point": "referred_to_therapy, continued_coaching, ended_otherwise or too_early",
    "choice_point_label": "how the choice point is labelled wherever shown",
    "practice_id": "practice",
    "clinician_id": "clinician",
    "service": "therapy, coaching or combined",
    "helping_professional": "the client is a helping professional",
    "cohort": "helping_professional or other_clients",
    "consultations_attended": "attended free consultations",
    "first_attended_date": "first attended treatment session",
    "last_attended_date": "last attended treatment session",
    "median_gap_days": "median days between attended treatment sessions",
    "in_person_attended": "attended sessions in person",
    "telehealth_attended": "attended sessions by telehealth",
    "modality": "in_person or telehealth (≥ 75% of attended sessions), mixed, or none",
    "location": "most frequent in-person location, or none",
    "ending": "planned, unplanned or other",
    "administered_on": "date of the administration",
    "session_number": "attended treatment sessions up to and including the administration's date",
    "score": "scale score (prorated where allowed)",
    "pomp": "percent of maximum possible: 100 · (score − min) / (max − min)",
    "band": "severity band from the registry (empty where the scale has none)",
}


def describe(table: PublishedTable, column: str) -> str:
    if column.endswith(SUPPRESSED) and column.removesuffix(SUPPRESSED) in table.protected:
        return f"true when {column.removesuffix(SUPPRESSED)} is hidden by disclosure control (shown as <k)"
    for source in (TABLE_DOCS if table.file == "aggregate" else CLINICAL_DOCS, SHARED, TABLE_DOCS, CLINICAL_DOCS):
        if column in source:
            return source[column]
    for pattern, text in _PATTERNS:
        match = re.match(pattern, column)
        if match:
            return text.format(*match.groups())
    raise KeyError(f"{table.name}.{column} has no description; add one to schemas/published.py")


def table(file: str, name: str) -> PublishedTable:
    return next(t for t in PUBLISHED if t.file == file and t.name == name)


def conform(file: str, name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Project a table onto its contract: exactly the documented columns, in order; anything else is a bug."""
    spec = table(file, name)
    expected = spec.all_columns()
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected]
    if missing or extra:
        raise ValueError(
            f"published table {file}.{name} breaks its contract: missing {missing}, not documented {extra}"
        )
    return frame.select(expected)


def _kind(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "number"
    if dtype == pl.Boolean:
        return "true/false"
    if dtype == pl.Date:
        return "date"
    return "text"


def data_dictionary(kinds: dict[tuple[str, str], dict[str, str]] | None = None) -> str:
    """The Markdown data dictionary. ``kinds`` (file, table) -> column -> type, when known from a publication."""
    lines = [
        "# Data dictionary: published tables",
        "",
        "Generated by `make docs` from `schemas/published.py` — do not edit by hand; a test fails when it is stale.",
        "",
        "- `published/aggregate.duckdb` — disclosure-controlled aggregates only; what dashboards and reports read.",
        "  Every protected column X has `X_suppressed`: true means X is NULL because it is hidden, shown as `<k`.",
        "- `published/clinical.duckdb` — client-level (pseudonymous) indicators for clinicians' own caseloads.",
        "",
        "Formulas, denominators and references: [indicators.md](indicators.md).",
    ]
    for spec in PUBLISHED:
        lines += ["", f"## {spec.file}.{spec.name}", "", spec.purpose, "", f"*Grain*: one row per {spec.grain}.", ""]
        lines += ["| column | type | meaning |", "|---|---|---|"]
        known = (kinds or {}).get((spec.file, spec.name), {})
        for column in spec.columns:
            lines.append(f"| `{column}` | {known.get(column, '')} | {describe(spec, column)} |")
        if spec.protected:
            lines.append(
                f"| `<column>_suppressed` | true/false | for each of: {', '.join(f'`{c}`' for c in spec.protected)} |"
            )
    return "\n".join(lines) + "\n"


def kinds_of(frames: dict[tuple[str, str], pl.DataFrame]) -> dict[tuple[str, str], dict[str, str]]:
    return {key: {c: _kind(t) for c, t in frame.schema.items()} for key, frame in frames.items()}
