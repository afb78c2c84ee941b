"""The published tables: a documented contract (DESIGN 7). `docs/data-dictionary.md` is generated from this file.

Publishing projects every table onto exactly these columns, in this order (`conform`), so a column can neither
appear nor vanish without this contract — and the dictionary — changing with it. In aggregate tables every
protected column X has a companion boolean `X_suppressed`: true means X is hidden (NULL) by disclosure control
and is displayed as `<k`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

SUPPRESSED = "_suppressed"
#: Per row of a protected table: the columns hidden only so that a small number elsewhere cannot be worked out
#: (space-separated; shown as ‡, never as <k).
PROTECT_COLUMN = "hidden_to_protect"


#: Column types of the published contract: the polars dtype each one is published as.
TYPES: dict[str, pl.DataType] = {
    "str": pl.String(), "int": pl.Int64(), "float": pl.Float64(), "bool": pl.Boolean(), "date": pl.Date(),
}  # fmt: skip
KIND_NAMES = {"str": "text", "int": "integer", "float": "number", "bool": "true/false", "date": "date"}


class PublishedContractBroken(ValueError):
    """A table about to be published does not match its model: a bug (publishing stops, exit 3)."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # a key of TYPES
    nullable: bool


@dataclass(frozen=True)
class PublishedTable:
    """One published table's model: its columns with type and nullability, and its grain (the key every row is
    unique on; empty for a single-row table). ``protected`` columns (aggregate tables) may be hidden: they are
    nullable and each has a boolean companion ``<column>_suppressed``."""

    name: str
    file: str  # "aggregate" or "clinical"
    grain: tuple[str, ...]
    purpose: str
    declared: tuple[Column, ...]
    protected: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.declared)

    def all_columns(self) -> list[str]:
        return [c.name for c in self.model()]

    def model(self) -> list[Column]:
        """Every column, companions included, with protected ones nullable; a table with protected columns also
        says per row which of them are hidden only to protect other cells (`hidden_to_protect`)."""
        return [
            *(Column(c.name, c.kind, c.nullable or c.name in self.protected) for c in self.declared),
            *(Column(f"{c}{SUPPRESSED}", "bool", False) for c in self.protected),
            *((Column(PROTECT_COLUMN, "str", True),) if self.protected else ()),
        ]

    def grain_text(self) -> str:
        if not self.grain:
            return "a single row"
        return "one row per " + " × ".join(g.replace("_", " ") for g in self.grain)

    def schema(self) -> pa.DataFrameSchema:
        """The Pandera model: dtypes, nullability, no other column, and the grain unique."""
        columns = {c.name: pa.Column(TYPES[c.kind], nullable=c.nullable) for c in self.model()}
        return pa.DataFrameSchema(columns, strict=True, ordered=True, unique=list(self.grain) or None)


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
    "settings": "every practice setting in force, as JSON (`ifs-outcomes settings` explains each)",
    "code_version": "ifs-outcomes version (and git commit) that computed the numbers",
    "disclosure_k": "the disclosure threshold k in force",
    "disclosure_rule": "the disclosure rule in force, in words",
    "disclosure_audit": "what disclosure control did (JSON): cells, hidden as small (primary) and to protect "
    "(complementary), remainders protected, counts no suppression could protect, the audit's programmes and seconds",
    "episodes": "episodes in the denominator of the table",
    "paired": "episodes with a baseline and a later administration",
    "categorised": "paired episodes with a change category (their scale has a reliable-change rule); the five "
    "categories add up to it",
    "mean_change": "mean of latest − baseline (scale points)",
    "reliably_improved": "paired episodes reliably improved (the scale's rule, docs/indicators.md §4)",
    "reliably_deteriorated": "paired episodes reliably deteriorated",
    "recovered": "reliable recovery (the Jacobson-Truax category): reliably improved, clinical at baseline, not "
    "clinical at latest",
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
    (r"^(.+_rate)_ci_(low|high)$", "{1} limit of {0}'s 95% Wilson score interval"),
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
    """``columns``: ``name:kind`` tokens, kind one of str int float bool date, ``?`` after it when nullable."""
    declared = []
    for token in columns.split():
        column, _, kind = token.partition(":")
        declared.append(Column(column, kind.rstrip("?"), kind.endswith("?")))
    return PublishedTable(name, file, tuple(grain.split()), purpose, tuple(declared), tuple(protected.split()))


_PERIOD = "period_type:str period:str parent_period:str?"
_BREAKDOWN = "dimension:str level:str"
#: The 95% Wilson intervals of the outcome rates (outcome_summary, nhs_outcomes).
_RATE_CI_COLUMNS = " ".join(
    f"{rate}_ci_{end}"
    for rate in ("recovery_rate", "reliable_improvement_rate", "reliable_deterioration_rate", "reliable_recovery_rate")
    for end in ("low", "high")
)
_RATE_CI = " ".join(f"{c}:float?" for c in _RATE_CI_COLUMNS.split())
_META = (
    "as_of:date warehouse_run_id:str registry_version:str code_version:str settings_fingerprint:str settings:str "
    "disclosure_k:int disclosure_rule:str disclosure_audit:str?"
)

PUBLISHED: tuple[PublishedTable, ...] = (
    _table(
        "outcome_summary", "aggregate", "population period_type period dimension level instrument scale",
        "Pre/post outcomes of two populations — finished treatment in a period (discharged, >= 2 attended "
        "treatment sessions) and in treatment at the as-of date — per scale: completeness, change categories, "
        "recovery, reliable improvement, reliable recovery and deterioration each with its denominator, the rule "
        "that decided reliable change, and effect sizes with 95% CIs.",
        f"population:str {_PERIOD} instrument:str scale:str {_BREAKDOWN} revision:int? rc_rule:str? "
        "rc_threshold:float? episodes:int paired:int categorised:int recovered:int improved:int unchanged:int "
        "deteriorated:int harmed:int reliably_improved:int reliably_deteriorated:int clinical_baseline:int "
        "recovery:int lapsed:int mean_baseline:float? mean_latest:float? mean_change:float? sd_baseline:float? "
        "sd_change:float? d:float? d_ci_low:float? d_ci_high:float? g:float? g_ci_low:float? g_ci_high:float? "
        "dz:float? dz_ci_low:float? dz_ci_high:float? ci_method:str? paired_rate:float? "
        "reliable_improvement_rate:float? reliable_deterioration_rate:float? recovery_rate:float? "
        f"reliable_recovery_rate:float? {_RATE_CI}",
        "episodes paired categorised recovered improved unchanged deteriorated harmed reliably_improved "
        "reliably_deteriorated clinical_baseline recovery lapsed paired_rate reliable_improvement_rate "
        "reliable_deterioration_rate recovery_rate reliable_recovery_rate mean_baseline mean_latest mean_change "
        "sd_baseline sd_change d d_ci_low d_ci_high g g_ci_low g_ci_high dz dz_ci_low dz_ci_high "
        f"{_RATE_CI_COLUMNS}",
    ),
    _table(
        "nhs_outcomes", "aggregate", "period_type period dimension level",
        "The NHS Talking Therapies composite metrics of the episodes that finished treatment in the period, on the "
        "configured measure pair (PHQ-9 and GAD-7 by default), each with its denominator.",
        f"{_PERIOD} {_BREAKDOWN} revision:int? measures:str finished:int paired:int caseness:int recovery:int "
        "reliable_improvement:int reliable_deterioration:int reliable_recovery:int paired_rate:float? "
        "recovery_rate:float? reliable_improvement_rate:float? reliable_deterioration_rate:float? "
        f"reliable_recovery_rate:float? {_RATE_CI}",
        "finished paired caseness recovery reliable_improvement reliable_deterioration reliable_recovery "
        "paired_rate recovery_rate reliable_improvement_rate reliable_deterioration_rate reliable_recovery_rate "
        f"{_RATE_CI_COLUMNS}",
    ),
    _table(
        "period_comparison", "aggregate",
        "source period_type period dimension level instrument scale metric",
        "Each finished-treatment figure of a quarter or month against the previous one of the same type, with the "
        "95% CI of the difference; derived from the published outcome_summary and nhs_outcomes, so what they hide "
        "stays hidden.",
        "source:str period_type:str period:str dimension:str level:str instrument:str scale:str metric:str "
        "previous_period:str numerator:int? denominator:int? value:float? spread:float? previous_numerator:int? "
        "previous_denominator:int? previous_value:float? difference:float? difference_ci_low:float? "
        "difference_ci_high:float? ci_method:str?",
        "numerator denominator value spread previous_numerator previous_denominator previous_value difference "
        "difference_ci_low difference_ci_high",
    ),
    _table(
        "milestone_funnel", "aggregate", "period_type period dimension level",
        "How far episodes travel through the five goals of IFS work, in order, and sequence deviations "
        "(period: the month or quarter the episode started).",
        f"{_PERIOD} {_BREAKDOWN} episodes:int reached_m1:int reached_m2:int reached_m3:int reached_m4:int "
        "reached_m5:int episodes_m2_before_m1:int episodes_m3_before_m2:int episodes_m4_before_m3:int "
        "episodes_m5_before_m4:int episodes_exile_contact_without_permission:int median_session_m1:float? "
        "median_session_m2:float? reach_rate_m1:float? reach_rate_m2:float? reach_rate_m3:float? "
        "reach_rate_m4:float? reach_rate_m5:float?",
        "episodes reached_m1 reached_m2 reached_m3 reached_m4 reached_m5 episodes_m2_before_m1 "
        "episodes_m3_before_m2 episodes_m4_before_m3 episodes_m5_before_m4 episodes_exile_contact_without_permission "
        "reach_rate_m1 reach_rate_m2 reach_rate_m3 reach_rate_m4 reach_rate_m5 median_session_m1 median_session_m2",
    ),
    _table(
        "milestone_curves", "aggregate", "milestone unit method time",
        "Cumulative proportion of episodes reaching each milestone: cumulative incidence with ending treatment as a "
        "competing event (the default), and Kaplan-Meier (a sensitivity analysis that overstates reach); points only "
        "while at least k episodes are at risk.",
        "milestone:int unit:str method:str time:float at_risk:int cumulative_reached:float ci_low:float? "
        "ci_high:float?",
    ),
    _table(
        "engagement_summary", "aggregate", "dimension level",
        "Sessions, attendance, cadence, endings, lapse and dropout (all time).",
        f"{_BREAKDOWN} episodes:int consultation_only:int with_intake:int scheduled:int attended:int cancelled:int "
        "no_show:int ended:int planned:int unplanned:int other_endings:int lapsed:int dropouts:int "
        "dropout_denominator:int episodes_with_cadence:int median_cadence_days:float? mean_duration_min:float? "
        "attendance_rate:float? dropout_rate:float? conversion_rate:float?",
        "episodes consultation_only with_intake scheduled attended cancelled no_show ended planned unplanned "
        "other_endings lapsed dropouts dropout_denominator episodes_with_cadence attendance_rate dropout_rate "
        "conversion_rate median_cadence_days mean_duration_min",
    ),
    _table(
        "engagement_by_period", "aggregate", "period_type period dimension level",
        "Treatment sessions by the session's month and quarter; intakes by intake month; endings by discharge month.",
        f"{_PERIOD} {_BREAKDOWN} scheduled:int attended:int cancelled:int no_show:int intakes:int "
        "planned_endings:int unplanned_endings:int other_endings:int attendance_rate:float?",
        "scheduled attended cancelled no_show intakes planned_endings unplanned_endings other_endings attendance_rate",
    ),
    _table(
        "self_leadership_trajectory", "aggregate", "period_type period measure session_number dimension level",
        "Mean Self score (POMP), clinician-rated Self-energy and polarization by attended session number "
        "(period: the month or quarter the episode started).",
        f"{_PERIOD} measure:str session_number:int {_BREAKDOWN} n:int mean:float? ci_low:float? ci_high:float?",
        "n mean ci_low ci_high",
    ),
    _table(
        "coaching_summary", "aggregate", "period_type period dimension level",
        "Coaching episodes: GAS T-scores, commitment follow-through, choice points (practice-defined) and what "
        "followed (period: the month or quarter the episode started).",
        f"{_PERIOD} {_BREAKDOWN} coaching_episodes:int with_gas:int with_follow_through:int choice_points:int "
        "season_of_therapy:int coaching_and_therapy:int healing_within_coaching:int continued_coaching:int "
        "ended_otherwise:int too_early:int "
        "mean_gas_t_baseline:float? mean_gas_t_latest:float? mean_gas_t_change:float? mean_follow_through:float? "
        "choice_point_rate:float?",
        "coaching_episodes with_gas with_follow_through choice_points season_of_therapy coaching_and_therapy "
        "healing_within_coaching continued_coaching ended_otherwise too_early choice_point_rate mean_gas_t_baseline "
        "mean_gas_t_latest mean_gas_t_change "
        "mean_follow_through",
    ),
    _table(
        "outcomes_by_theme", "aggregate", "theme instrument scale",
        "Outcomes of finished treatment (all time) by presenting theme (themes overlap: an episode counts under "
        "each of its themes).",
        "theme:str instrument:str scale:str paired:int categorised:int reliably_improved:int clinical_baseline:int "
        "recovery:int recovered:int mean_change:float? reliable_improvement_rate:float? recovery_rate:float? "
        "reliable_recovery_rate:float?",
        "paired categorised reliably_improved clinical_baseline recovery recovered reliable_improvement_rate "
        "recovery_rate reliable_recovery_rate mean_change",
    ),
    _table(
        "change_density", "aggregate", "population instrument scale dimension level cell",
        "Paired episodes on a baseline × latest score grid (the Jacobson plot without client-level points), for "
        "finished treatment (all time) and in treatment; cells of 1 to k−1 episodes are suppressed.",
        f"population:str instrument:str scale:str {_BREAKDOWN} cell:str parent_cell:str? baseline_bin:int? "
        "latest_bin:int? "
        "baseline_low:float? baseline_high:float? latest_low:float? latest_high:float? scale_min:float "
        "scale_max:float higher_is_better:bool rc_threshold:float? cutoff:float? episodes:int",
        "episodes",
    ),
    _table(
        "scale_methods", "aggregate", "instrument scale",
        "How each scale's numbers were computed: its reliable-change rule and parameters, cutoff and reliability; "
        "what the Methods page and the report print.",
        "instrument:str scale:str instrument_name:str scale_label:str validated:bool items:int scale_min:float "
        "scale_max:float higher_is_better:bool citation:str paired:int rc_rule:str? rc_threshold:float? "
        "rc_sd:float? rc_sd_source:str? cutoff:float? cutoff_source:str? reliability:float? "
        "reliability_source:str? alpha_estimated:float? n_baseline_complete:int?",
        "paired n_baseline_complete rc_sd rc_threshold alpha_estimated",
    ),
    _table(
        "data_quality", "aggregate", "batch_id load_number table_name measure rule",
        "Rows received, loaded, quarantined and collapsed, and quarantined rows by rule. Counts rows, not people: "
        "exempt from disclosure control.",
        "batch_id:str load_number:int as_of:date table_name:str? measure:str rule:str? rows:int",
    ),
    _table(
        "data_quality_summary", "aggregate", "",
        "Batches loaded and rows received, loaded, quarantined and collapsed over all of them (rows, not people).",
        "batches:int received:int loaded:int quarantined:int duplicates:int",
    ),
    _table("publication", "aggregate", "", "What these numbers were computed from and with.", _META),
    _table(
        "client_change", "clinical", "client_id instrument scale",
        "Baseline and latest score, reliable change, clinical status and category per episode.",
        "client_id:str instrument:str scale:str higher_is_better:bool baseline_date:date? baseline_score:float? "
        "baseline_session_number:int? latest_date:date? latest_score:float? latest_session_number:int? "
        "n_administrations:int paired:bool change:float? rci:float? reliably_improved:bool? "
        "reliably_deteriorated:bool? rc_rule:str? rc_threshold:float? rc_sd:float? rc_sd_source:str? "
        "reliability:float? reliability_source:str? cutoff:float? cutoff_source:str? clinical_baseline:bool? "
        "clinical_latest:bool? category:str? registry_version:str",
    ),
    _table(
        "client_scores", "clinical", "client_id instrument scale administered_on",
        "Every scored administration with its session number and severity band: a client's trajectory.",
        "client_id:str instrument:str scale:str administered_on:date session_number:int score:float pomp:float "
        "band:str?",
    ),
    _table(
        "milestones", "clinical", "client_id",
        "When each IFS milestone was reached in order, stage reached and sequence deviations (episodes with an "
        "attended treatment session).",
        "client_id:str m1_date:date? m1_session:int? m1_days:int? m2_date:date? m2_session:int? m2_days:int? "
        "m3_date:date? m3_session:int? m3_days:int? m4_date:date? m4_session:int? m4_days:int? m5_date:date? "
        "m5_session:int? m5_days:int? stage_reached:int first_session_date:date last_session:int last_days:int "
        "m2_before_m1:int m3_before_m2:int m4_before_m3:int m5_before_m4:int exile_contact_without_permission:int",
    ),
    _table(
        "alerts", "clinical", "client_id instrument scale",
        "Early-warning flags for review (paired episodes): not on track, reliable deterioration, a positive risk "
        "item. Not a safety system.",
        "client_id:str instrument:str scale:str latest_date:date latest_session_number:int change:float "
        "reliably_deteriorated:bool? reference_n:int? reference_pooled:bool? not_on_track:bool? risk_items:str? "
        "risk_date:date? risk_value:float? risk_positive:bool? risk_unanswered:bool? episode_open:bool "
        "any_flag:bool caveat:str",
    ),
    _table(
        "self_leadership", "clinical", "client_id",
        "Self score, clinician-rated Self-energy and polarization: baseline, latest, change, slope, and the "
        "practice-defined Self-leadership index (episodes with a Self point).",
        "client_id:str baseline_self_score_pomp:float? latest_self_score_pomp:float? change_self_score_pomp:float? "
        "n_points_self_score_pomp:int? slope_per_session_self_score_pomp:float? "
        "baseline_clinician_self_energy:float? latest_clinician_self_energy:float? "
        "change_clinician_self_energy:float? n_points_clinician_self_energy:int? "
        "slope_per_session_clinician_self_energy:float? baseline_polarization:float? latest_polarization:float? "
        "change_polarization:float? n_points_polarization:int? slope_per_session_polarization:float? "
        "index_baseline:float? index_latest:float? index_change:float? ifs_self_reliably_improved:bool? "
        "index_label:str",
    ),
    _table(
        "coaching", "clinical", "client_id",
        "GAS T-scores, follow-through, resistance trend and the choice point per coaching episode.",
        "client_id:str service:str attended_sessions:int? gas_ratings:int? gas_t_baseline:float? gas_t_latest:float? "
        "gas_t_change:float? follow_through:float? resistance_slope:float? choice_point_date:date? "
        "choice_point_session:int? after_choice_point:str? discharge_date:date? discharge_reason:str? "
        "choice_point_label:str",
    ),
    _table(
        "episode_engagement", "clinical", "client_id",
        "Engagement facts and dimensions per episode.",
        "client_id:str practice_id:str clinician_id:str service:str helping_professional:bool "
        "consultation_only:bool consultations_attended:int scheduled:int attended:int cancelled:int no_show:int "
        "attendance_rate:float? first_attended_date:date? last_attended_date:date? median_gap_days:float? "
        "in_person_attended:int telehealth_attended:int modality:str location:str mean_duration_min:float? "
        "discharge_date:date? discharge_reason:str? ended:bool ending:str? lapsed:bool outcome_population:str? "
        "cohort:str",
    ),
    _table("publication", "clinical", "", "What these numbers were computed from and with.", _META),
)  # fmt: skip

#: The practice's internal view (`published/internal.duckdb`): the aggregate tables exactly, without disclosure
#: control (every `_suppressed` false), for the practice's own eyes in clinical mode — the sensitivity of clinical.
PUBLISHED += tuple(
    PublishedTable(t.name, "internal", t.grain, t.purpose, t.declared, t.protected)
    for t in PUBLISHED
    if t.file == "aggregate"
)

TABLE_DOCS: dict[str, str] = {
    "d": "standardized mean change, s·(M_latest − M_baseline)/SD_baseline, positive = better",
    "g": "Hedges' g = J·d",
    "d_ci_low": "lower limit of d's 95% CI (see ci_method)",
    "d_ci_high": "upper limit of d's 95% CI",
    "g_ci_low": "lower limit of g's 95% CI (J times d's)",
    "g_ci_high": "upper limit of g's 95% CI",
    "dz": "d_z = s·mean(latest − baseline)/SD(latest − baseline), positive = better",
    "dz_ci_low": "lower limit of d_z's 95% CI",
    "dz_ci_high": "upper limit of d_z's 95% CI",
    "ci_method": "how the row's confidence intervals were computed (effect sizes: normal, nonparametric "
    "delta-method SE)",
    "population": "finished_treatment (discharged in the period, with >= 2 attended treatment sessions) or "
    "in_treatment (open and not lapsed at the as-of date)",
    "revision": "finished treatment: loads dated after the period ended that last wrote data of its episodes (0: as "
    "first published once closed); empty for all time and in treatment",
    "recovery": "paired episodes clinical at baseline and not at the latest administration",
    "measures": "the NHS measure pair (settings outcomes.nhs_instruments)",
    "finished": "episodes discharged in the period with at least 2 attended treatment sessions",
    "caseness": "paired on both measures and at caseness on either at the start",
    "reliable_improvement": "either measure reliably improved and neither reliably deteriorated",
    "reliable_deterioration": "either measure reliably deteriorated and neither reliably improved",
    "reliable_recovery": "recovery and reliable improvement",
    "reliable_recovery_rate": "reliable recovery / at caseness (clinical at baseline)",
    "clinical_baseline": "clinical at baseline (on the dysfunctional side of the cutoff or on it)",
    "mean_baseline": "mean baseline score of paired episodes",
    "mean_latest": "mean latest score of paired episodes",
    "sd_baseline": "SD (n − 1) of baseline scores of paired episodes",
    "sd_change": "SD (n − 1) of the changes (latest − baseline) of paired episodes",
    "source": "the published table the figures come from (outcome_summary: finished treatment; nhs_outcomes)",
    "metric": "recovery_rate, reliable_improvement_rate, reliable_recovery_rate, reliable_deterioration_rate or "
    "mean_change (a column of the source table)",
    "previous_period": "the calendar period before (the previous quarter or month)",
    "numerator": "the metric's numerator count in the period (empty for mean_change)",
    "denominator": "the metric's denominator in the period (paired for mean_change)",
    "value": "the metric in the period",
    "spread": "mean_change: the SD of change in the period (empty for rates)",
    "previous_numerator": "the numerator in the previous period",
    "previous_denominator": "the denominator in the previous period",
    "previous_value": "the metric in the previous period (empty if it has no row)",
    "difference": "value − previous_value (percentage points as a fraction for rates; scale points for mean_change)",
    "difference_ci_low": "lower limit of the difference's 95% CI (ci_method)",
    "difference_ci_high": "upper limit of the difference's 95% CI",
    "paired_rate": "paired / episodes (paired-data completeness)",
    "reliable_improvement_rate": "reliably_improved / categorised (paired episodes whose scale has a rule)",
    "reliable_deterioration_rate": "reliably_deteriorated / categorised",
    "recovery_rate": "recovery / at caseness at the start (clinical at baseline)",
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
    "lapsed": "open episodes with no attended session in the lapse window (42 days) before the as-of date "
    "(outcome_summary: beside finished treatment, by the month of their last attended session)",
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
    "cumulative_reached": "cumulative proportion reaching the milestone by this time (by the method)",
    "method": "cumulative_incidence (ending treatment competes: the default) or kaplan_meier (ending censored: a "
    "sensitivity analysis that overstates reach)",
    "measure": "self_score_pomp, clinician_self_energy or polarization",
    "session_number": "attended treatment session number",
    "n": "episodes contributing a point",
    "mean": "mean of the measure",
    "coaching_episodes": "episodes with service coaching or combined, with an intake",
    "with_gas": "coaching episodes with a GAS rating",
    "with_follow_through": "coaching episodes with commitments to follow through",
    "choice_points": "coaching episodes that reached a choice point (practice-defined)",
    "season_of_therapy": "route after the choice point: a season of therapy (ended referred to therapy)",
    "coaching_and_therapy": "route after the choice point: coaching and therapy combined (a combined episode)",
    "healing_within_coaching": "route after the choice point: IFS healing sessions within coaching (later sessions "
    "with exile contact or unburdening)",
    "continued_coaching": "route after the choice point: 3 or more further attended sessions, no healing work",
    "ended_otherwise": "route after the choice point: ended another way",
    "too_early": "route after the choice point: open with fewer than 3 further sessions",
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
    "batches": "batches loaded (not taken back)",
    "load_number": "1 for a batch's first load, 2 for a corrected re-export of the same batch id, …",
    "received": "rows received",
    "loaded": "rows loaded",
    "quarantined": "rows quarantined with their reasons",
    "duplicates": "exact duplicate rows collapsed",
    "instrument_name": "the instrument's name",
    "scale_label": "the scale's label",
    "validated": "a validated instrument (false: a practice instrument, shown with that caveat)",
    "items": "items in the scale",
    "citation": "where the instrument and its norms come from",
    "rc_rule": "the reliable-change rule: points (a conventional threshold) or jacobson_truax",
    "rc_sd": "SD used for the Jacobson-Truax RCI",
    "rc_sd_source": "registry, or the baseline SD of the paired episodes",
    "cutoff_source": "caseness (the registry's cutoff), or jacobson_truax_c (from norms)",
    "reliability": "reliability used for reliable change",
    "reliability_source": "published, or estimated (Cronbach's alpha at baseline)",
    "alpha_estimated": "Cronbach's alpha from the practice's complete baseline administrations",
    "n_baseline_complete": "complete baseline administrations alpha was estimated from",
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
    "risk_items": "the instrument's risk items (registry `risk`; PHQ-9: phq9_9), empty for instruments without",
    "risk_date": "date of the episode's latest administration of the instrument",
    "risk_value": "the highest risk-item answer at that administration",
    "risk_positive": "a risk item > 0 at the latest administration (PHQ-9 item 9)",
    "risk_unanswered": "a risk item skipped at the latest administration (not a risk flag)",
    "episode_open": "episode not discharged",
    "any_flag": "not on track, reliably deteriorated or a risk item positive",
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
    "after_choice_point": "the route that followed: season_of_therapy, coaching_and_therapy, healing_within_coaching, "
    "continued_coaching, ended_otherwise or too_early",
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
    "outcome_population": "finished_treatment (discharged with >= 2 attended treatment sessions), in_treatment (open, "
    "not lapsed), lapsed, or empty (ended after fewer sessions; consultation only)",
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


def validate(file: str, name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A table as published: exactly its model's columns in order, integers widened to Int64 and floats to Float64
    (lossless), then checked against the Pandera model — dtypes, nullability, grain. Anything else is a bug."""
    spec = table(file, name)
    expected = spec.all_columns()
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected]
    if missing or extra:
        raise PublishedContractBroken(f"{file}.{name}: missing columns {missing}, not in the model {extra}")
    casts = []
    for column in spec.model():
        dtype = frame.schema[column.name]
        target = TYPES[column.kind]
        widen = (dtype.is_integer() and target == pl.Int64) or (dtype.is_float() and target == pl.Float64)
        casts.append(pl.col(column.name).cast(target) if widen or dtype == pl.Null else pl.col(column.name))
    conformed = frame.select(casts)
    if not spec.grain and conformed.height > 1:
        raise PublishedContractBroken(f"{file}.{name}: a single-row table has {conformed.height} rows")
    try:
        return spec.schema().validate(conformed)
    except (pa.errors.SchemaError, pa.errors.SchemaErrors) as exc:
        raise PublishedContractBroken(f"{file}.{name}: {exc}") from exc


def data_dictionary() -> str:
    """The Markdown data dictionary, from the models alone (no pipeline run needed)."""
    lines = [
        "# Data dictionary: published tables",
        "",
        "Generated by `make docs` from `schemas/published.py` — do not edit by hand; a test fails when it is stale.",
        "",
        "- `published/aggregate.duckdb` — disclosure-controlled aggregates only; what dashboards and reports read.",
        "  Every protected column X has `X_suppressed`: true means X is NULL because it is hidden;",
        "  `hidden_to_protect` lists the columns of the row hidden only so that a small number elsewhere cannot be",
        "  worked out (shown as ‡); any other hidden count is a small count (shown as `<k`).",
        "- `published/clinical.duckdb` — client-level (pseudonymous) indicators for clinicians' own caseloads.",
        "- `published/internal.duckdb` — the aggregate tables below without disclosure control (small numbers",
        "  included, every `_suppressed` false), for the practice's own eyes in clinical mode; never shared.",
        "",
        "Each table is validated against this model when it is published (types, empty allowed or not, and the grain: "
        "no two rows share the grain's values). Formulas, denominators and references: [indicators.md](indicators.md); "
        "the code of each table: `pipeline/marts/<table>.py`.",
    ]
    for spec in (t for t in PUBLISHED if t.file != "internal"):  # the internal file repeats the aggregate models
        lines += ["", f"## {spec.file}.{spec.name}", "", spec.purpose, "", f"*Grain*: {spec.grain_text()}.", ""]
        lines += ["| column | type | empty allowed | meaning |", "|---|---|---|---|"]
        for column in spec.declared:
            nullable = column.nullable or column.name in spec.protected
            lines.append(
                f"| `{column.name}` | {KIND_NAMES[column.kind]} | {'yes' if nullable else 'no'} | "
                f"{describe(spec, column.name)} |"
            )
        if spec.protected:
            hidden = ", ".join(f"`{c}`" for c in spec.protected)
            lines.append(f"| `<column>_suppressed` | true/false | no | for each of: {hidden} |")
    return "\n".join(lines) + "\n"
