"""The rest of the R package `clinicalsignificance` (Claus et al. 2024, *J Stat Softw* 111(1); version 3.0.0).

`pipeline.change` holds the reliable change indices, the Jacobson-Truax cutoffs and the categories; this module
adds the other approaches of the package, each as a plain function and as an R-like entry point over long data
with the package's argument names (`cs_distribution`, `cs_statistical`, `cs_combined`, `cs_percentage`,
`cs_anchor`):

- the HLM method (Raudenbush & Bryk 2002): a random-intercept, random-slope model over all measurements,
  fitted with statsmodels' MixedLM (REML); each subject is classified by the empirical-Bayes (EB) estimate of
  their random slope divided by its conditional SD;
- Hageman & Arrindell's (1999) "true" cutoffs, their individual test of the post score (``cs_indiv``) and
  their group-level proportions changed and functional;
- the statistical approach (clinical and functional population at pre and post);
- the percentage-change approach (separate thresholds for improvement and deterioration);
- the anchor-based approach, individual (separate MIDs) and group level (paired or Welch t-test CIs against
  the MID).

Every deliberate difference from the package is listed in docs/indicators.md §5a and tested.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from pipeline.change import (
    METHOD_NAMES,
    METHODS,
    Z_ONE_SIDED,
    Z_TWO_SIDED,
    ChangeAnalysis,
    ChangeError,
    _direction,
    _sd,
    analyze_change,
    anchor_flags,
    categorize,
    clinical_cutoff,
    effect_sizes,
    is_clinical,
    long_to_wide,
    reliable_change_flags,
    reliable_change_index,
)

APPROACHES: tuple[str, ...] = ("distribution", "statistical", "combined", "percentage", "anchor")
#: The RCI methods of `pipeline.change` plus HLM, which needs all measurements rather than a pre/post pair.
RCI_METHODS: tuple[str, ...] = (*METHODS, "hlm")
CUTOFF_METHODS: tuple[str, ...] = ("jt", "ha")
#: The three categories of every approach that does not combine a change criterion with a cutoff.
THREE_CATEGORIES = ("improved", "unchanged", "deteriorated")
#: HLM uses subjects with at least this many measurements (as the package does).
HLM_MIN_MEASUREMENTS = 3
ANCHOR_GROUP_CATEGORIES = (
    "Statistically not significant",
    "Statistically significant but not clinically relevant",
    "Not significantly less than the threshold",  # "greater" when higher is better
    "Probably clinically significant effect",
    "Large clinically significant effect",
)


def _higher(better_is: str) -> bool:
    if better_is not in ("lower", "higher"):
        raise ChangeError(f"better_is must be 'lower' or 'higher', not {better_is!r}")
    return better_is == "higher"


def _rci_method(rci_method: str) -> str:
    method = rci_method.lower()
    if method not in RCI_METHODS:
        raise ChangeError(f"unknown RCI method {rci_method!r}; use one of {', '.join(RCI_METHODS)}")
    return method


def _null_flags(n: int) -> pl.Series:
    return pl.Series([None] * n, dtype=pl.Boolean)


# --- Hageman & Arrindell (1999) --------------------------------------------------------------------------


def ha_reliability(sd: float, se_measurement: float) -> float:
    """r_xx = (SD² − SE²) / SD²: the reliability of scores with spread SD, given the instrument's SE of measurement
    (Hageman & Arrindell's way of carrying one reliability over to the post and functional populations)."""
    return (sd**2 - se_measurement**2) / sd**2


def ha_cutoff(
    kind: str,
    *,
    higher_is_better: bool,
    m_clinical: float,
    sd_clinical: float,
    reliability_clinical: float,
    m_functional: float | None = None,
    sd_functional: float | None = None,
    reliability_functional: float | None = None,
) -> float:
    """Hageman & Arrindell's "true" cutoffs: the Jacobson-Truax cutoffs on true scores, each SD shrunk by √r.

    a = M_c + 2·s·SD_c·√r_c;  b = M_f − 2·s·SD_f·√r_f (the functional spread, as our Jacobson-Truax b; the package
    uses SD_c·√r_c here);  c = (SD_c√r_c·M_f + SD_f√r_f·M_c) / (SD_c√r_c + SD_f√r_f).
    """
    s = _direction(higher_is_better)
    spread_c = sd_clinical * math.sqrt(reliability_clinical)
    if kind == "a":
        return m_clinical + 2 * s * spread_c
    if m_functional is None or sd_functional is None or reliability_functional is None:
        raise ChangeError(f"cutoff {kind!r} needs the functional (normative) mean and SD")
    spread_f = sd_functional * math.sqrt(reliability_functional)
    if kind == "b":
        return m_functional - 2 * s * spread_f
    if kind == "c":
        return (spread_c * m_functional + spread_f * m_clinical) / (spread_c + spread_f)
    raise ChangeError(f"unknown cutoff {kind!r}; use a, b, c or a number")


def ha_cs_indiv(
    post: np.ndarray, *, cutoff: float, m_post: float, reliability_post: float, se_measurement: float
) -> np.ndarray:
    """Hageman & Arrindell's individual clinical-significance test of the post score against the cutoff:
    (M_post + (post − M_post)·r_post − cutoff) / (√r_post · SE) — the true post score's distance from the
    cutoff in standard errors, compared with qnorm(0.95)."""
    post = np.asarray(post, dtype=float)
    return (m_post + (post - m_post) * reliability_post - cutoff) / (math.sqrt(reliability_post) * se_measurement)


def ha_group_level(
    pre: np.ndarray,
    post: np.ndarray,
    *,
    higher_is_better: bool,
    r_dd: float,
    cutoff: float | None,
    reliability_post: float | None,
) -> dict[str, Any]:
    """Hageman & Arrindell's group-level summary: the expected proportion of the group whose true change is in the
    beneficial direction (``changed``, Φ of −mean change / (SD change · √r_dd), mirrored when higher is better) and
    whose true post score is on the functional side of the cutoff (``functional``, Φ of (cutoff − M_post) /
    (SD_post · √r_post), mirrored). ``r_dd`` and ``r_post`` are the whole sample's, as in the package."""
    x = np.asarray(pre, dtype=float)
    y = np.asarray(post, dtype=float)
    diff = y - x
    s = _direction(higher_is_better)
    mean_change, sd_change = float(np.mean(diff)), _sd(diff)
    m_post, sd_post = float(np.mean(y)), _sd(y)
    changed = float(stats.norm.cdf(s * mean_change / (sd_change * math.sqrt(r_dd)))) if sd_change > 0 else None
    functional = None
    if cutoff is not None and reliability_post is not None and sd_post > 0:
        functional = float(stats.norm.cdf(-s * (cutoff - m_post) / (sd_post * math.sqrt(reliability_post))))
    return {
        "n": len(x),
        "mean_change": mean_change,
        "sd_change": sd_change,
        "m_post": m_post,
        "sd_post": sd_post,
        "changed": changed,
        "functional": functional,
    }


# --- clinical status against a cutoff (Jacobson-Truax or Hageman-Arrindell) ------------------------------


@dataclass
class CutoffStatus:
    """Where each subject stands against the cutoff, and whether they moved between the populations."""

    value: float
    clinical_pre: np.ndarray
    clinical_post: np.ndarray
    #: moved into the functional population (JT: clinical at pre, not at post; HA: the cs_indiv test)
    to_functional: np.ndarray
    #: moved into the clinical population (the mirror)
    to_clinical: np.ndarray
    parameters: dict[str, Any]
    #: extra output columns (HA: cs_indiv, reliably_functional_post, reliably_clinical_post)
    columns: dict[str, np.ndarray] = field(default_factory=dict)


def cutoff_status(
    pre: np.ndarray,
    post: np.ndarray,
    *,
    cutoff_type: str | float,
    higher_is_better: bool,
    cutoff_method: str = "jt",
    reliability: float | None = None,
    m_clinical: float | None = None,
    sd_clinical: float | None = None,
    m_functional: float | None = None,
    sd_functional: float | None = None,
) -> CutoffStatus:
    """Clinical status at pre and post against a Jacobson-Truax (``jt``) or Hageman-Arrindell (``ha``) cutoff.

    The clinical mean/SD default to the pre mean/SD (n − 1) of the subjects given. A score exactly on the cutoff
    is clinical (our rule everywhere; the package counts it as neither). With ``ha`` the SE of measurement is
    SD_clinical·√(1 − r), the post and functional reliabilities follow `ha_reliability`, and a subject moves into
    the functional population when clinical at pre and s·cs_indiv > qnorm(0.95), into the clinical population
    when not clinical at pre and s·cs_indiv < −qnorm(0.95).
    """
    x = np.asarray(pre, dtype=float)
    y = np.asarray(post, dtype=float)
    if cutoff_method not in CUTOFF_METHODS:
        raise ChangeError(f"unknown cutoff method {cutoff_method!r}; use jt or ha")
    m_c = float(np.mean(x)) if m_clinical is None else float(m_clinical)
    sd_c = _sd(x) if sd_clinical is None else float(sd_clinical)
    kind = cutoff_type if isinstance(cutoff_type, str) else "value"
    params: dict[str, Any] = {
        "cutoff_method": cutoff_method,
        "cutoff_type": kind if cutoff_method == "jt" or kind == "value" else f"{kind}_true",
        "m_clinical": m_c,
        "sd_clinical": sd_c,
        "m_functional": m_functional,
        "sd_functional": sd_functional,
    }
    if cutoff_method == "jt":
        if isinstance(cutoff_type, str):
            value = clinical_cutoff(
                cutoff_type, higher_is_better=higher_is_better, m_clinical=m_c, sd_clinical=sd_c,
                m_functional=m_functional, sd_functional=sd_functional,
            )  # fmt: skip
        else:
            value = float(cutoff_type)
        clinical_pre = is_clinical(x, value, higher_is_better)
        clinical_post = is_clinical(y, value, higher_is_better)
        params["cutoff"] = value
        return CutoffStatus(
            value, clinical_pre, clinical_post, clinical_pre & ~clinical_post, ~clinical_pre & clinical_post, params
        )
    if reliability is None or not 0 < reliability < 1:
        raise ChangeError("the Hageman-Arrindell cutoff needs a reliability between 0 and 1 (exclusive)")
    if not sd_c > 0:
        raise ChangeError("the clinical SD must be positive (need at least two different pre scores)")
    se = sd_c * math.sqrt(1 - reliability)
    r_clinical = ha_reliability(sd_c, se)
    sd_post = _sd(y)
    r_post = ha_reliability(sd_post, se) if sd_post > 0 else math.nan
    r_functional = ha_reliability(sd_functional, se) if sd_functional else None
    for name, r in (("post", r_post), ("functional", r_functional)):
        if r is not None and not r > 0:
            raise ChangeError(
                f"Hageman-Arrindell: the {name} SD is not larger than the SE of measurement ({se:.3g}), "
                "so its reliability is not positive"
            )
    if isinstance(cutoff_type, str):
        value = ha_cutoff(
            cutoff_type, higher_is_better=higher_is_better, m_clinical=m_c, sd_clinical=sd_c,
            reliability_clinical=r_clinical, m_functional=m_functional, sd_functional=sd_functional,
            reliability_functional=r_functional,
        )  # fmt: skip
    else:
        value = float(cutoff_type)
    s = _direction(higher_is_better)
    cs_indiv = ha_cs_indiv(y, cutoff=value, m_post=float(np.mean(y)), reliability_post=r_post, se_measurement=se)
    clinical_pre = is_clinical(x, value, higher_is_better)
    clinical_post = is_clinical(y, value, higher_is_better)
    to_functional = clinical_pre & (s * cs_indiv > Z_ONE_SIDED)
    to_clinical = ~clinical_pre & (s * cs_indiv < -Z_ONE_SIDED)
    params.update(
        cutoff=value,
        se_measurement=se,
        reliability_clinical=r_clinical,
        reliability_post=r_post,
        reliability_functional=r_functional,
        critical_value_cs_indiv=Z_ONE_SIDED,
    )
    columns = {
        "cs_indiv": cs_indiv,
        "reliably_functional_post": to_functional,
        "reliably_clinical_post": to_clinical,
    }
    return CutoffStatus(value, clinical_pre, clinical_post, to_functional, to_clinical, params, columns)


def statistical_categories(status: CutoffStatus) -> np.ndarray:
    """The statistical approach: improved = moved into the functional population, deteriorated = moved into the
    clinical population, unchanged otherwise (the package's Improved / Unchanged / Deteriorated)."""
    return np.where(status.to_functional, "improved", np.where(status.to_clinical, "deteriorated", "unchanged")).astype(
        object
    )


# --- percentage change -----------------------------------------------------------------------------------


def percentage_change(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """(post − pre) / |pre|; undefined (NaN) for a zero baseline. Equal to the package's change / pre whenever
    pre > 0; |pre| keeps the sign meaning "up" for negative baselines too."""
    x = np.asarray(pre, dtype=float)
    y = np.asarray(post, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, np.nan, (y - x) / np.abs(x))


def percentage_change_flags(
    pre: np.ndarray,
    post: np.ndarray,
    higher_is_better: bool,
    pct_improvement: float,
    pct_deterioration: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(improved, deteriorated) by percentage of the baseline, both inclusive: s·pct ≥ pct_improvement,
    s·pct ≤ −pct_deterioration (default pct_improvement); no change is never either.

    A zero baseline has no percentage: any change in the beneficial direction counts as improved and any change
    in the other as deteriorated (the package does this when higher is better; when lower is better it marks a
    move away from 0 both improved and deteriorated, which we treat as the deterioration it is).
    """
    x = np.asarray(pre, dtype=float)
    y = np.asarray(post, dtype=float)
    s = _direction(higher_is_better)
    worse = pct_improvement if pct_deterioration is None else pct_deterioration
    pct = percentage_change(x, y)
    zero = x == 0
    with np.errstate(invalid="ignore"):
        improved = np.where(zero, s * (y - x) > 0, s * pct >= pct_improvement)
        deteriorated = np.where(zero, s * (y - x) < 0, s * pct <= -worse)
    same = x == y
    return improved & ~same, deteriorated & ~same


# --- anchor-based, group level ---------------------------------------------------------------------------


def anchor_group_category(
    difference: float, lower: float, upper: float, *, higher_is_better: bool, mid_improvement: float
) -> str:
    """Classify a group's mean difference and its CI against the MID (Claus et al. 2024, after Hespanhol et al.).

    With d = s·difference and [lo, hi] the CI in the beneficial direction: the CI contains 0 → not significant;
    hi < MID → significant but not clinically relevant; lo > MID → large clinically significant effect;
    otherwise the MID lies in the CI and d ≥ MID → probably clinically significant, d < MID → not significantly
    less (greater, when higher is better) than the threshold. The same rule in both directions and at the
    boundaries (the package leaves some exact ties and, when higher is better, CIs containing 0 unclassified).
    """
    s = _direction(higher_is_better)
    d = s * difference
    lo, hi = sorted((s * lower, s * upper))
    if lo <= 0 <= hi:
        return ANCHOR_GROUP_CATEGORIES[0]
    if hi < mid_improvement:
        return ANCHOR_GROUP_CATEGORIES[1]
    if lo > mid_improvement:
        return ANCHOR_GROUP_CATEGORIES[4]
    if d >= mid_improvement:
        return ANCHOR_GROUP_CATEGORIES[3]
    return ANCHOR_GROUP_CATEGORIES[2].replace("less", "greater") if higher_is_better else ANCHOR_GROUP_CATEGORIES[2]


def paired_mean_change_ci(pre: np.ndarray, post: np.ndarray, ci_level: float = 0.95) -> tuple[float, float, float]:
    """(mean of post − pre, lower, upper): the paired t-test's estimate and CI, as R's t.test(post, pre, paired)."""
    x = np.asarray(pre, dtype=float)
    y = np.asarray(post, dtype=float)
    result = stats.ttest_rel(y, x)
    ci = result.confidence_interval(confidence_level=ci_level)
    return float(np.mean(y - x)), float(ci.low), float(ci.high)


def welch_difference_ci(
    comparison: np.ndarray, reference: np.ndarray, ci_level: float = 0.95
) -> tuple[float, float, float]:
    """(mean(comparison) − mean(reference), lower, upper): Welch's t-test CI, as R's t.test(comparison, reference)."""
    a = np.asarray(comparison, dtype=float)
    b = np.asarray(reference, dtype=float)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence_level=ci_level)
    return float(np.mean(a) - np.mean(b)), float(ci.low), float(ci.high)


@dataclass
class AnchorGroupResult:
    """The anchor-based approach at group level: one row per group (within) or per comparison (between)."""

    table: pl.DataFrame
    n_in_data: int
    n_used: int
    n_dropped_missing: int
    parameters: dict[str, Any]
    #: within: the subjects' pre/post pairs the t-tests used (for effect sizes); None between groups
    pairs: pl.DataFrame | None = None

    def summary(self, group: str | None = None) -> dict[str, Any]:
        """What was done and the group-level rows (``group`` is accepted for symmetry with ChangeAnalysis)."""
        return {
            "n_in_data": self.n_in_data,
            "n_used": self.n_used,
            "n_dropped_missing": self.n_dropped_missing,
            "parameters": self.parameters,
            "group_level": self.table.to_dicts(),
        }


# --- HLM (Raudenbush & Bryk 2002) --------------------------------------------------------------------------


@dataclass
class HlmFit:
    """The HLM fit: per subject the EB slope deviation and its conditional SD; the model, and whether it converged."""

    subjects: pl.DataFrame  # id, [group], n_measurements, pre, post, eb_slope, eb_sd, rci
    model: dict[str, Any]
    n_in_data: int
    n_dropped: int

    @property
    def usable(self) -> bool:
        """Converged, with a finite EB z for every subject: only then are subjects classified."""
        return bool(self.model["converged"]) and bool(self.subjects["rci"].is_finite().all())


def hlm_fit(data: pl.DataFrame, *, id: str, time: str, outcome: str, group: str | None = None) -> HlmFit:
    """Fit outcome ~ time + (time | id) by REML over every measurement of the subjects with at least three.

    As in the package: rows missing the id, time, outcome (or group) are dropped; pre and post are each subject's
    first and last remaining measurement (by time); the per-subject statistic is the EB estimate of the random
    slope — the subject's deviation from the average slope, as lme4's ``ranef`` gives it — divided by its
    conditional SD (``rci`` = eb_slope / eb_sd). The fit is statsmodels' MixedLM; when it does not converge, or a
    conditional SD is zero (a singular fit), ``model["converged"]`` / ``usable`` say so and nobody is classified.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM

    columns = (id, time, outcome, *([group] if group else []))
    for column in columns:
        if column not in data.columns:
            raise ChangeError(f"column {column!r} is not in the data (columns: {', '.join(data.columns)})")
    times = data[time].cast(pl.Float64, strict=False)
    if (times.is_null() & data[time].is_not_null()).any():
        example = data.filter(times.is_null() & data[time].is_not_null())[time][0]
        raise ChangeError(f"the HLM method needs a numeric time column; {time!r} has values such as {example!r}")
    frame = data.with_columns(times.alias("_t"), pl.col(outcome).cast(pl.Float64, strict=False).alias("_y"))
    n_in_data = frame[id].n_unique()
    rows = frame.drop_nulls([id, "_t", "_y", *([group] if group else [])]).filter(pl.col("_y").is_finite())
    per = (
        rows.sort([id, "_t"], maintain_order=True)
        .group_by(id, maintain_order=True)
        .agg(
            pl.len().alias("n_measurements"),
            pl.col("_y").first().alias("pre"),
            pl.col("_y").last().alias("post"),
            *([pl.col(group).first()] if group else []),
        )
        .filter(pl.col("n_measurements") >= HLM_MIN_MEASUREMENTS)
        .sort(id)
    )
    if per.height < 3:
        raise ChangeError(
            f"the HLM method needs at least three subjects with {HLM_MIN_MEASUREMENTS} or more measurements, "
            f"found {per.height}"
        )
    used = rows.join(per.select(id), on=id, how="semi").sort([id, "_t"], maintain_order=True)
    t = used["_t"].to_numpy()
    design = np.column_stack([np.ones_like(t), t])
    groups = used[id].cast(pl.String).to_numpy()
    model: dict[str, Any] = {"formula": "outcome ~ time + (time | id)", "estimation": "REML", "warnings": []}
    eb = np.full(per.height, np.nan)
    eb_sd = np.full(per.height, np.nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = MixedLM(used["_y"].to_numpy(), design, groups=groups, exog_re=design.copy()).fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as exc:
            result = None
            model["message"] = f"the model could not be fitted: {exc}"
    model["warnings"] = sorted({str(w.message).splitlines()[0] for w in caught})
    model["converged"] = bool(result is not None and result.converged)
    if result is not None:
        fixed = np.asarray(result.fe_params, dtype=float)
        model.update(
            fixed_intercept=float(fixed[0]),
            fixed_slope=float(fixed[1]),
            cov_random=np.asarray(result.cov_re, dtype=float).tolist(),
            residual_variance=float(result.scale),
            n_observations=used.height,
            log_likelihood=float(result.llf),
        )
        effects, covariances = result.random_effects, result.random_effects_cov
        for i, key in enumerate(per[id].cast(pl.String).to_list()):
            eb[i] = float(np.asarray(effects[key], dtype=float)[1])
            eb_sd[i] = math.sqrt(max(float(np.asarray(covariances[key], dtype=float)[1, 1]), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = eb / eb_sd
    if not model["converged"]:
        model.setdefault("message", "the model did not converge: no subject was classified")
    elif not np.isfinite(z).all():
        model["message"] = "a conditional SD of a slope is zero (singular fit): no subject was classified"
    subjects = per.with_columns(pl.Series("eb_slope", eb), pl.Series("eb_sd", eb_sd), pl.Series("rci", z)).with_columns(
        pl.col("eb_slope", "eb_sd", "rci").fill_nan(None)
    )
    return HlmFit(subjects=subjects, model=model, n_in_data=n_in_data, n_dropped=n_in_data - per.height)


# --- assembling a result -------------------------------------------------------------------------------------


def _assemble(
    wide: pl.DataFrame,
    *,
    id: str,
    group: str | None,
    columns: dict[str, Any],
    flags: tuple[np.ndarray, np.ndarray] | None,
    status: CutoffStatus | None,
    category: np.ndarray | None,
    parameters: dict[str, Any],
    n_in_data: int,
    n_dropped: int,
    categories: tuple[str, ...] | None,
    extra: dict[str, Any] | None = None,
) -> ChangeAnalysis:
    """One row per subject: id, [group], the approach's columns, flags, clinical status and category."""
    n = wide.height
    out: dict[str, Any] = {id: wide[id], **({group: wide[group]} if group else {})}
    out.update(columns)
    if flags is not None:
        out["improved"], out["deteriorated"] = flags
    if status is not None:
        out["clinical_pre"], out["clinical_post"] = status.clinical_pre, status.clinical_post
        out.update(status.columns)
    out["category"] = pl.Series(category.tolist() if category is not None else [None] * n, dtype=pl.String)
    frame = pl.DataFrame(out)
    if category is None:  # unclassified: the flags are unknown, not false
        frame = frame.with_columns(
            *(pl.lit(None, pl.Boolean).alias(c) for c in ("improved", "deteriorated") if c in frame.columns)
        )
    if status is not None:
        parameters = {**parameters, **status.parameters}
    return ChangeAnalysis(
        subjects=frame,
        n_in_data=n_in_data,
        n_used=n,
        n_dropped_missing=n_dropped,
        parameters=parameters,
        categories=categories,
        extra=extra or {},
        classified=category is not None,
    )


def _wide(
    data: pl.DataFrame, id: str, time: str, outcome: str, pre: Any, post: Any, group: str | None
) -> tuple[pl.DataFrame, int, int]:
    """`long_to_wide` with the package's convenience: with two numeric time values, the smaller is pre."""
    if pre is None:
        if time not in data.columns:
            raise ChangeError(f"column {time!r} is not in the data (columns: {', '.join(data.columns)})")
        values = data[time].drop_nulls().unique()
        if values.len() == 2 and values.dtype.is_numeric():
            pre, post = values.min(), values.max() if post is None else post
        else:
            raise ChangeError(f"the pre measurement is needed: say which value of {time!r} is the pre measurement")
    return long_to_wide(
        data, id=id, time=time, outcome=outcome, pre=str(pre), post=None if post is None else str(post), group=group
    )


def _prepost(wide: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    pre = wide["pre"].to_numpy().astype(float)
    post = wide["post"].to_numpy().astype(float)
    if len(pre) < 2:
        raise ChangeError(f"at least two subjects with both pre and post values are needed, found {len(pre)}")
    return pre, post


def _ha_extra(
    pre: np.ndarray,
    post: np.ndarray,
    wide: pl.DataFrame,
    group: str | None,
    *,
    higher_is_better: bool,
    r_dd: float,
    se_measurement: float,
    cutoff: float | None,
) -> dict[str, Any]:
    """The HA group-level block, overall and per group, with the whole sample's r_dd and r_post (r_post from the
    RCI's SE of measurement, as the package computes it); ``functional`` needs a cutoff."""
    r_post = ha_reliability(_sd(post), se_measurement)

    def block(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        return ha_group_level(
            x, y, higher_is_better=higher_is_better, r_dd=r_dd, cutoff=cutoff, reliability_post=r_post
        )

    out: dict[str, Any] = {"reliability_post": r_post, "overall": block(pre, post)}
    if group:
        out["groups"] = {
            str(key[0]): block(part["pre"].to_numpy().astype(float), part["post"].to_numpy().astype(float))
            for key, part in wide.sort(group).group_by(group, maintain_order=True)
        }
    return {"ha_group_level": out}


# --- R-like entry points over long data ----------------------------------------------------------------------


def cs_distribution(
    data: pl.DataFrame,
    id: str,
    time: str,
    outcome: str,
    group: str | None = None,
    pre: Any = None,
    post: Any = None,
    reliability: float | None = None,
    reliability_post: float | None = None,
    better_is: str = "lower",
    rci_method: str = "jt",
) -> ChangeAnalysis:
    """The distribution-based approach (`clinicalsignificance::cs_distribution`): improved / unchanged /
    deteriorated by a reliable change index (jt, gln, hll, en, nk, ha) or by the HLM method (``rci_method="hlm"``,
    all measurements; ``pre``/``post``/``reliability`` unused)."""
    return cs_combined(
        data, id, time, outcome, group=group, pre=pre, post=post, reliability=reliability,
        reliability_post=reliability_post, better_is=better_is, rci_method=rci_method, cutoff_type=None,
    )  # fmt: skip


def cs_statistical(
    data: pl.DataFrame,
    id: str,
    time: str,
    outcome: str,
    group: str | None = None,
    pre: Any = None,
    post: Any = None,
    m_functional: float | None = None,
    sd_functional: float | None = None,
    reliability: float | None = None,
    better_is: str = "lower",
    cutoff_method: str = "jt",
    cutoff_type: str | float = "a",
    m_clinical: float | None = None,
    sd_clinical: float | None = None,
) -> ChangeAnalysis:
    """The statistical approach (`clinicalsignificance::cs_statistical`): did a subject move from the clinical
    into the functional population (improved), the other way (deteriorated), or neither (unchanged)?

    ``cutoff_method="jt"`` compares the scores with the cutoff and needs no reliability; ``"ha"`` uses
    Hageman-Arrindell's true cutoff and individual test, and needs ``reliability``.
    """
    higher = _higher(better_is)
    if cutoff_method == "ha" and reliability is None:
        raise ChangeError("the Hageman-Arrindell cutoff method needs the instrument's reliability")
    wide, n_in_data, n_dropped = _wide(data, id, time, outcome, pre, post, group)
    x, y = _prepost(wide)
    status = cutoff_status(
        x, y, cutoff_type=cutoff_type, higher_is_better=higher, cutoff_method=cutoff_method,
        reliability=reliability if cutoff_method == "ha" else None, m_clinical=m_clinical, sd_clinical=sd_clinical,
        m_functional=m_functional, sd_functional=sd_functional,
    )  # fmt: skip
    params = {"approach": "statistical", "higher_is_better": higher, "reliability": reliability}
    return _assemble(
        wide, id=id, group=group, columns={"pre": x, "post": y, "change": y - x}, flags=None, status=status,
        category=statistical_categories(status), parameters=params, n_in_data=n_in_data, n_dropped=n_dropped,
        categories=THREE_CATEGORIES,
    )  # fmt: skip


def cs_combined(
    data: pl.DataFrame,
    id: str,
    time: str,
    outcome: str,
    group: str | None = None,
    pre: Any = None,
    post: Any = None,
    mid_improvement: float | None = None,
    mid_deterioration: float | None = None,
    reliability: float | None = None,
    reliability_post: float | None = None,
    m_functional: float | None = None,
    sd_functional: float | None = None,
    better_is: str = "lower",
    rci_method: str = "jt",
    cutoff_type: str | float | None = "a",
    cutoff_method: str = "jt",
    m_clinical: float | None = None,
    sd_clinical: float | None = None,
) -> ChangeAnalysis:
    """The combined approach (`clinicalsignificance::cs_combined`): a change criterion and a cutoff give
    recovered / improved / unchanged / deteriorated / harmed.

    The change criterion is the RCI of ``rci_method`` (jt, gln, hll, en, nk, ha, hlm), or the MIDs when
    ``mid_improvement`` is given (the package's "CWB" combination of anchor and cutoff). The cutoff is a
    Jacobson-Truax one (``cutoff_method="jt"``, the default for every method) or Hageman-Arrindell's true cutoff
    with its individual test (``"ha"``; the package uses it whenever ``rci_method="HA"``). With the HA RCI the
    result carries the HA group-level summary (``ha_group_level``). ``cutoff_type=None`` gives the
    distribution-based approach.
    """
    higher = _higher(better_is)
    method = _rci_method(rci_method)
    if cutoff_method not in CUTOFF_METHODS:
        raise ChangeError(f"unknown cutoff method {cutoff_method!r}; use jt or ha")
    if cutoff_type is None and cutoff_method == "ha":
        raise ChangeError("the Hageman-Arrindell cutoff method needs a cutoff type (a, b, c or a number)")
    if mid_improvement is not None:
        return _anchor_individual(
            data, id, time, outcome, group, pre, post, mid_improvement, mid_deterioration, higher,
            cutoff_type, cutoff_method, reliability, m_clinical, sd_clinical, m_functional, sd_functional,
        )  # fmt: skip
    if method == "hlm":
        return _hlm(
            data, id, time, outcome, group, higher, cutoff_type, cutoff_method, reliability, m_clinical,
            sd_clinical, m_functional, sd_functional,
        )  # fmt: skip
    if reliability is None:
        raise ChangeError(f"the {METHOD_NAMES[method]} method needs the instrument's reliability")
    wide, n_in_data, n_dropped = _wide(data, id, time, outcome, pre, post, group)
    if cutoff_method == "jt":
        analysis = analyze_change(
            wide, id=id, method=method, reliability=reliability, reliability_post=reliability_post,
            higher_is_better=higher, cutoff=cutoff_type, m_clinical=m_clinical, sd_clinical=sd_clinical,
            m_functional=m_functional, sd_functional=sd_functional, group=group, n_in_data=n_in_data,
            n_dropped=n_dropped,
        )  # fmt: skip
        analysis.parameters["approach"] = "combined" if cutoff_type is not None else "distribution"
        if cutoff_type is not None:
            analysis.parameters["cutoff_method"] = "jt"
        if method == "ha":
            analysis.extra.update(
                _ha_extra(
                    *_prepost(wide),
                    wide,
                    group,
                    higher_is_better=higher,
                    r_dd=analysis.parameters["extra"]["r_dd"],
                    se_measurement=analysis.parameters["extra"]["se_measurement"],
                    cutoff=analysis.parameters["cutoff"],
                )
            )
        return analysis
    # Hageman-Arrindell cutoffs: the RCI as usual, then the true cutoff and its individual test
    x, y = _prepost(wide)
    rci, params = reliable_change_index(x, y, method=method, reliability=reliability, reliability_post=reliability_post)
    flags = reliable_change_flags(rci, higher, params.critical_value)
    status = cutoff_status(
        x, y, cutoff_type=cutoff_type, higher_is_better=higher, cutoff_method="ha",  # type: ignore[arg-type]
        reliability=reliability, m_clinical=m_clinical, sd_clinical=sd_clinical, m_functional=m_functional,
        sd_functional=sd_functional,
    )  # fmt: skip
    category = categorize(*flags, None, None, to_functional=status.to_functional, to_clinical=status.to_clinical)
    parameters = {
        "approach": "combined",
        "method": method,
        "method_name": METHOD_NAMES[method],
        "higher_is_better": higher,
        "reliability": reliability,
        "reliability_post": params.reliability_post,
        "critical_value": params.critical_value,
        "sd_pre": params.sd_pre,
        "m_pre": params.m_pre,
        "m_post": params.m_post,
        "sd_post": params.sd_post,
        "extra": params.extra,
    }
    extra = (
        _ha_extra(
            x,
            y,
            wide,
            group,
            higher_is_better=higher,
            r_dd=params.extra["r_dd"],
            se_measurement=params.extra["se_measurement"],
            cutoff=status.value,
        )
        if method == "ha"
        else None
    )
    return _assemble(
        wide, id=id, group=group, columns={"pre": x, "post": y, "change": y - x, "rci": rci}, flags=flags,
        status=status, category=category, parameters=parameters, n_in_data=n_in_data, n_dropped=n_dropped,
        categories=None, extra=extra,
    )  # fmt: skip


def _hlm(
    data: pl.DataFrame,
    id: str,
    time: str,
    outcome: str,
    group: str | None,
    higher: bool,
    cutoff_type: str | float | None,
    cutoff_method: str,
    reliability: float | None,
    m_clinical: float | None,
    sd_clinical: float | None,
    m_functional: float | None,
    sd_functional: float | None,
) -> ChangeAnalysis:
    """HLM alone or with a cutoff (clinical status from each subject's first and last measurement)."""
    fit = hlm_fit(data, id=id, time=time, outcome=outcome, group=group)
    wide = fit.subjects
    x, y = wide["pre"].to_numpy().astype(float), wide["post"].to_numpy().astype(float)
    rci = wide["rci"].to_numpy().astype(float)
    flags = reliable_change_flags(np.nan_to_num(rci), higher, Z_TWO_SIDED)
    status = None
    if cutoff_type is not None:
        status = cutoff_status(
            x, y, cutoff_type=cutoff_type, higher_is_better=higher, cutoff_method=cutoff_method,
            reliability=reliability, m_clinical=m_clinical, sd_clinical=sd_clinical, m_functional=m_functional,
            sd_functional=sd_functional,
        )  # fmt: skip
    category = None
    if fit.usable:
        category = (
            categorize(*flags, None, None, to_functional=status.to_functional, to_clinical=status.to_clinical)
            if status is not None
            else categorize(*flags, None, None)
        )
    columns = {
        "n_measurements": wide["n_measurements"],
        "pre": x,
        "post": y,
        "change": y - x,
        "eb_slope": wide["eb_slope"],
        "eb_sd": wide["eb_sd"],
        "rci": wide["rci"],
    }
    parameters = {
        "approach": "combined" if status is not None else "distribution",
        "method": "hlm",
        "method_name": "Hierarchical linear model (Raudenbush & Bryk)",
        "higher_is_better": higher,
        "critical_value": Z_TWO_SIDED,
        "rule": "EB slope / conditional SD",
    }
    return _assemble(
        wide, id=id, group=group, columns=columns, flags=flags, status=status, category=category,
        parameters=parameters, n_in_data=fit.n_in_data, n_dropped=fit.n_dropped, categories=None,
        extra={"model": fit.model},
    )  # fmt: skip


def cs_percentage(
    data: pl.DataFrame,
    id: str,
    time: str,
    outcome: str,
    group: str | None = None,
    pre: Any = None,
    post: Any = None,
    pct_improvement: float | None = None,
    pct_deterioration: float | None = None,
    better_is: str = "lower",
) -> ChangeAnalysis:
    """The percentage-change approach (`clinicalsignificance::cs_percentage`): improved / unchanged /
    deteriorated by the change as a fraction of the baseline (``pct_improvement`` 0.5 = 50%), see
    `percentage_change_flags`."""
    higher = _higher(better_is)
    for name, value in (("pct_improvement", pct_improvement), ("pct_deterioration", pct_deterioration)):
        if value is not None and not 0 < value <= 1:
            raise ChangeError(f"{name} must be a fraction above 0 and at most 1 (0.5 = 50%), not {value}")
    if pct_improvement is None:
        raise ChangeError("the percentage-change approach needs pct_improvement (0.5 = 50%)")
    wide, n_in_data, n_dropped = _wide(data, id, time, outcome, pre, post, group)
    x, y = _prepost(wide)
    flags = percentage_change_flags(x, y, higher, pct_improvement, pct_deterioration)
    parameters = {
        "approach": "percentage",
        "higher_is_better": higher,
        "pct_improvement": pct_improvement,
        "pct_deterioration": pct_improvement if pct_deterioration is None else pct_deterioration,
    }
    pct = pl.Series("pct_change", percentage_change(x, y)).fill_nan(None)
    return _assemble(
        wide, id=id, group=group, columns={"pre": x, "post": y, "change": y - x, "pct_change": pct}, flags=flags,
        status=None, category=categorize(*flags, None, None), parameters=parameters, n_in_data=n_in_data,
        n_dropped=n_dropped, categories=THREE_CATEGORIES,
    )  # fmt: skip


def _check_mid(mid_improvement: float | None, mid_deterioration: float | None) -> float:
    if mid_improvement is None:
        raise ChangeError("the anchor-based approach needs mid_improvement (the MID in points)")
    for name, value in (("mid_improvement", mid_improvement), ("mid_deterioration", mid_deterioration)):
        if value is not None and not value > 0:
            raise ChangeError(f"{name} must be a positive number of points, not {value}")
    return float(mid_improvement)


def _anchor_individual(
    data: pl.DataFrame,
    id: str,
    time: str,
    outcome: str,
    group: str | None,
    pre: Any,
    post: Any,
    mid_improvement: float | None,
    mid_deterioration: float | None,
    higher: bool,
    cutoff_type: str | float | None,
    cutoff_method: str,
    reliability: float | None,
    m_clinical: float | None,
    sd_clinical: float | None,
    m_functional: float | None,
    sd_functional: float | None,
) -> ChangeAnalysis:
    mid = _check_mid(mid_improvement, mid_deterioration)
    wide, n_in_data, n_dropped = _wide(data, id, time, outcome, pre, post, group)
    x, y = _prepost(wide)
    flags = anchor_flags(y - x, higher, mid, mid_deterioration)
    status = None
    if cutoff_type is not None:
        status = cutoff_status(
            x, y, cutoff_type=cutoff_type, higher_is_better=higher, cutoff_method=cutoff_method,
            reliability=reliability, m_clinical=m_clinical, sd_clinical=sd_clinical, m_functional=m_functional,
            sd_functional=sd_functional,
        )  # fmt: skip
        category = categorize(*flags, None, None, to_functional=status.to_functional, to_clinical=status.to_clinical)
    else:
        category = categorize(*flags, None, None)
    parameters = {
        "approach": "combined" if status is not None else "anchor",
        "method": "anchor",
        "higher_is_better": higher,
        "mid_improvement": mid,
        "mid_deterioration": mid if mid_deterioration is None else mid_deterioration,
    }
    return _assemble(
        wide, id=id, group=group, columns={"pre": x, "post": y, "change": y - x}, flags=flags, status=status,
        category=category, parameters=parameters, n_in_data=n_in_data, n_dropped=n_dropped,
        categories=None if status is not None else THREE_CATEGORIES,
    )  # fmt: skip


def cs_anchor(
    data: pl.DataFrame,
    id: str,
    time: str,
    outcome: str,
    group: str | None = None,
    pre: Any = None,
    post: Any = None,
    mid_improvement: float | None = None,
    mid_deterioration: float | None = None,
    better_is: str = "lower",
    target: str = "individual",
    effect: str = "within",
    reference_group: Any = None,
    ci_level: float = 0.95,
) -> ChangeAnalysis | AnchorGroupResult:
    """The anchor-based approach (`clinicalsignificance::cs_anchor`), frequentist.

    - ``target="individual"``: improved when s·change ≥ ``mid_improvement``, deteriorated when s·change ≤
      −``mid_deterioration`` (default: the same MID), unchanged otherwise;
    - ``target="group", effect="within"``: per group (or overall), the mean change with its paired t-test CI,
      classified against the MID (`anchor_group_category`);
    - ``target="group", effect="between"``: the difference of each group's mean at ``post`` from the reference
      group's (``reference_group``, default the first in sort order), with Welch's CI, classified likewise.

    The package's default at group level is Bayesian (``bayesian = TRUE``, BayesFactor's JZS t-test); that
    variant is not provided here (see docs/indicators.md).
    """
    higher = _higher(better_is)
    mid = _check_mid(mid_improvement, mid_deterioration)
    if target not in ("individual", "group"):
        raise ChangeError(f"target must be individual or group, not {target!r}")
    if effect not in ("within", "between"):
        raise ChangeError(f"effect must be within or between, not {effect!r}")
    if not 0 < ci_level < 1:
        raise ChangeError(f"ci_level must be between 0 and 1 (exclusive), not {ci_level}")
    if target == "individual":
        if effect == "between":
            raise ChangeError("a between-groups effect is a group-level analysis: use target='group'")
        return _anchor_individual(
            data, id, time, outcome, group, pre, post, mid, mid_deterioration, higher, None, "jt", None, None,
            None, None, None,
        )  # fmt: skip
    parameters = {
        "approach": "anchor",
        "target": "group",
        "effect": effect,
        "higher_is_better": higher,
        "mid_improvement": mid,
        "ci_level": ci_level,
        "ci_method": "paired t-test" if effect == "within" else "Welch t-test",
        "bayesian": False,
    }
    if effect == "within":
        wide, n_in_data, n_dropped = _wide(data, id, time, outcome, pre, post, group)
        parts = (
            [(str(key[0]), part) for key, part in wide.sort(group).group_by(group, maintain_order=True)]
            if group
            else [("all", wide)]
        )
        rows = []
        for name, part in parts:
            x, y = part["pre"].to_numpy().astype(float), part["post"].to_numpy().astype(float)
            if len(x) < 2:
                raise ChangeError(f"group {name!r} has fewer than two subjects with pre and post values")
            difference, lower, upper = paired_mean_change_ci(x, y, ci_level)
            category = anchor_group_category(difference, lower, upper, higher_is_better=higher, mid_improvement=mid)
            rows.append(
                {"group": name, "n": len(x), "difference": difference, "lower": lower, "upper": upper,
                 "ci_level": ci_level, "category": category}
            )  # fmt: skip
        return AnchorGroupResult(pl.DataFrame(rows), n_in_data, wide.height, n_dropped, parameters, pairs=wide)
    # between groups: the scores at `post`, each group against the reference group
    if group is None or post is None:
        raise ChangeError("a between-groups comparison needs the group column and the post measurement")
    for column in (id, time, outcome, group):
        if column not in data.columns:
            raise ChangeError(f"column {column!r} is not in the data (columns: {', '.join(data.columns)})")
    at_post = data.filter(pl.col(time).cast(pl.String) == str(post))
    if at_post.height == 0:
        raise ChangeError(f"time value {post!r} does not occur in column {time!r}")
    if at_post.select(pl.col(id).is_duplicated().any()).item():
        raise ChangeError(f"some subjects have more than one row at {time} = {post}")
    n_in_data = data[id].n_unique()
    scores = at_post.select(id, group, pl.col(outcome).cast(pl.Float64, strict=False).alias("_y")).drop_nulls()
    scores = scores.filter(pl.col("_y").is_finite())
    levels = scores[group].unique().sort().to_list()
    if reference_group is None:
        reference_group = levels[0]
    reference_key = str(reference_group)
    if reference_key not in {str(v) for v in levels}:
        raise ChangeError(f"reference group {reference_group!r} does not occur in column {group!r}")
    by_group = {str(v): scores.filter(pl.col(group) == v)["_y"].to_numpy() for v in levels}
    reference = by_group[reference_key]
    rows = []
    for name, values in by_group.items():
        if name == reference_key:
            continue
        if len(values) < 2 or len(reference) < 2:
            raise ChangeError(f"groups {reference_key!r} and {name!r} need at least two scores each at {post}")
        difference, lower, upper = welch_difference_ci(values, reference, ci_level)
        rows.append(
            {"reference": reference_key, "comparison": name, "n_reference": len(reference),
             "n_comparison": len(values), "difference": difference, "lower": lower, "upper": upper,
             "ci_level": ci_level,
             "category": anchor_group_category(difference, lower, upper, higher_is_better=higher,
                                               mid_improvement=mid)}
        )  # fmt: skip
    parameters["reference_group"] = reference_key
    parameters["post"] = str(post)
    return AnchorGroupResult(pl.DataFrame(rows), n_in_data, scores.height, n_in_data - scores.height, parameters)


def effect_sizes_by_group(
    result: ChangeAnalysis | AnchorGroupResult, group: str | None, *, higher_is_better: bool
) -> dict[str, Any]:
    """`pipeline.change.effect_sizes` (d, g, d_z with seeded bootstrap CIs) over the pre/post pairs a result used,
    overall and per group."""
    frame = result.subjects if isinstance(result, ChangeAnalysis) else result.pairs
    if frame is None:
        raise ChangeError("effect sizes need paired pre/post scores, which a between-groups comparison does not use")

    def sizes(part: pl.DataFrame) -> dict[str, Any]:
        return effect_sizes(
            part["pre"].to_numpy().astype(float), part["post"].to_numpy().astype(float),
            higher_is_better=higher_is_better,
        )  # fmt: skip

    out: dict[str, Any] = {"overall": sizes(frame)}
    if group and group in frame.columns:
        out["groups"] = {
            str(key[0]): sizes(part) for key, part in frame.sort(group).group_by(group, maintain_order=True)
        }
    return out
