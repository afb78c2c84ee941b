"""Reliable and clinically significant change, effect sizes and NHS Talking Therapies metrics (DESIGN 5.2-5.4).

The researcher-facing module: plain functions over numpy arrays and polars frames, used by the pipeline and by
the `ifs-outcomes change` command alike, so a number is computed in exactly one place. Formulas follow
Jacobson & Truax (1991) and, for the alternative RCIs, Claus et al. (2024), *J Stat Softw* 111(1) (the R package
`clinicalsignificance`), with two documented differences: cutoff *b* uses the functional SD as Jacobson & Truax
define it, and a score exactly on a cutoff counts as clinical. See docs/indicators.md.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy import stats

from schemas.registry import Registry, Scale

#: qnorm(0.975): two-sided 5% critical value for every RCI except Hageman-Arrindell.
Z_TWO_SIDED = 1.959963984540054
#: qnorm(0.95): Hageman & Arrindell's one-sided critical value.
Z_ONE_SIDED = 1.6448536269514722

Method = Literal["jt", "gln", "hll", "en", "nk", "ha"]
METHODS: tuple[str, ...] = ("jt", "gln", "hll", "en", "nk", "ha")
METHOD_NAMES = {
    "jt": "Jacobson-Truax",
    "gln": "Gulliksen-Lord-Novick",
    "hll": "Hsu-Linn-Lord",
    "en": "Edwards-Nunnally",
    "nk": "Nunnally-Kotsch",
    "ha": "Hageman-Arrindell",
}
CATEGORIES = ("recovered", "improved", "unchanged", "deteriorated", "harmed")


class ChangeError(ValueError):
    """The inputs cannot give a defined result (e.g. fewer than two subjects, a zero SD)."""


def _direction(higher_is_better: bool) -> int:
    return 1 if higher_is_better else -1


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if len(x) > 1 else math.nan


@dataclass(frozen=True)
class RciParameters:
    """Everything an RCI used, so a published result can say exactly how it was computed."""

    method: str
    reliability: float
    reliability_post: float | None
    sd_pre: float
    m_pre: float
    m_post: float
    sd_post: float
    r_pre_post: float | None
    critical_value: float
    extra: dict[str, float] = field(default_factory=dict)


def reliable_change_index(
    pre: Sequence[float] | np.ndarray,
    post: Sequence[float] | np.ndarray,
    *,
    method: str = "jt",
    reliability: float,
    reliability_post: float | None = None,
    sd_pre: float | None = None,
    m_pre: float | None = None,
) -> tuple[np.ndarray, RciParameters]:
    """RCI per subject. Sample moments (means, SDs with n − 1, the pre-post correlation) come from the subjects
    given; ``sd_pre``/``m_pre`` override the pre moments (e.g. a published normative SD for Jacobson-Truax).

    - jt:  (post − pre) / (√2 · SD · √(1 − r))
    - gln: ((post − M_pre) − r(pre − M_pre)) / (SD · √(1 − r²))
    - hll: ((post − M_post) − r(pre − M_pre)) / (SD · √(1 − r²))
    - en:  (post − [r(pre − M_pre) + M_pre]) / (SD · √(1 − r))
    - nk:  (post − [r(pre − M_pre) + M_pre]) / √(r² SD² (1 − r) + SD² (1 − r_post))
    - ha:  ((post − pre) r_dd + (M_post − M_pre)(1 − r_dd)) / (√r_dd · √2 · SE), SE = SD √(1 − r), with
           r_xx = (SD_x² − SE²)/SD_x² at each time and
           r_dd = (SD_pre² r_pre + SD_post² r_post − 2 SD_pre SD_post ρ) / (SD_pre² + SD_post² − 2 SD_pre SD_post ρ)
    """
    if method not in METHODS:
        raise ChangeError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    x = np.asarray(pre, dtype=float)
    y = np.asarray(post, dtype=float)
    if not 0 < reliability < 1:
        raise ChangeError(f"reliability must be between 0 and 1 (exclusive), not {reliability}")
    r = reliability
    r_post = reliability if reliability_post is None else reliability_post
    s = _sd(x) if sd_pre is None else float(sd_pre)
    mx = float(np.mean(x)) if m_pre is None else float(m_pre)
    my = float(np.mean(y)) if len(y) else math.nan
    sy = _sd(y)
    if not (s > 0):
        raise ChangeError("the SD of the pre scores must be positive (need at least two different pre scores)")
    rho: float | None = None
    extra: dict[str, float] = {}
    if method == "jt":
        rci = (y - x) / (math.sqrt(2) * s * math.sqrt(1 - r))
    elif method == "gln":
        rci = ((y - mx) - r * (x - mx)) / (s * math.sqrt(1 - r**2))
    elif method == "hll":
        rci = ((y - my) - r * (x - mx)) / (s * math.sqrt(1 - r**2))
    elif method == "en":
        rci = (y - (r * (x - mx) + mx)) / (s * math.sqrt(1 - r))
    elif method == "nk":
        rci = (y - (r * (x - mx) + mx)) / math.sqrt(r**2 * s**2 * (1 - r) + s**2 * (1 - r_post))
    else:  # ha
        se = s * math.sqrt(1 - r)
        r_xx1 = (s**2 - se**2) / s**2
        r_xx2 = (sy**2 - se**2) / sy**2
        rho = float(np.corrcoef(x, y)[0, 1])
        r_dd = (s**2 * r_xx1 + sy**2 * r_xx2 - 2 * s * sy * rho) / (s**2 + sy**2 - 2 * s * sy * rho)
        if not r_dd > 0:
            raise ChangeError(f"Hageman-Arrindell: the reliability of the difference scores is {r_dd:.3g} (not > 0)")
        rci = ((y - x) * r_dd + (my - mx) * (1 - r_dd)) / (math.sqrt(r_dd) * math.sqrt(2) * se)
        extra = {"r_dd": r_dd, "se_measurement": se}
    params = RciParameters(
        method=method,
        reliability=r,
        reliability_post=r_post if method == "nk" else None,
        sd_pre=s,
        m_pre=mx,
        m_post=my,
        sd_post=sy,
        r_pre_post=rho,
        critical_value=Z_ONE_SIDED if method == "ha" else Z_TWO_SIDED,
        extra=extra,
    )
    return np.asarray(rci, dtype=float), params


def reliable_change_flags(
    rci: np.ndarray, higher_is_better: bool, critical_value: float = Z_TWO_SIDED
) -> tuple[np.ndarray, np.ndarray]:
    """(improved, deteriorated): s·RCI > z and s·RCI < −z, strictly (a value exactly at z is unchanged)."""
    s = _direction(higher_is_better)
    return s * rci > critical_value, s * rci < -critical_value


def anchor_flags(
    change: np.ndarray, higher_is_better: bool, mid_improvement: float, mid_deterioration: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(improved, deteriorated) against minimal important differences in points, both inclusive:
    s·change ≥ MID_improvement, s·change ≤ −MID_deterioration (the latter defaults to the former), as
    `clinicalsignificance::cs_anchor` counts a change that exactly meets the MID."""
    s = _direction(higher_is_better)
    worse = mid_improvement if mid_deterioration is None else mid_deterioration
    signed = s * np.asarray(change, dtype=float)
    return signed >= mid_improvement, signed <= -worse


def point_change_flags(change: np.ndarray, higher_is_better: bool, points: float) -> tuple[np.ndarray, np.ndarray]:
    """Conventional threshold in points (PHQ-9 6, GAD-7 4): reliably improved when s·change ≥ points (one MID
    for both directions, see `anchor_flags`)."""
    return anchor_flags(change, higher_is_better, points)


def jt_critical_difference(sd: float, reliability: float, critical_value: float = Z_TWO_SIDED) -> float:
    """The change in points that Jacobson-Truax needs to exceed: z · √2 · SD · √(1 − r)."""
    return critical_value * math.sqrt(2) * sd * math.sqrt(1 - reliability)


def clinical_cutoff(
    kind: str,
    *,
    higher_is_better: bool,
    m_clinical: float,
    sd_clinical: float,
    m_functional: float | None = None,
    sd_functional: float | None = None,
) -> float:
    """Jacobson & Truax (1991) cutoffs, s = +1 when higher is better:

    a = M_clin + 2·s·SD_clin;  b = M_func − 2·s·SD_func (the paper's functional SD; `clinicalsignificance`
    uses the clinical SD);  c = (SD_clin·M_func + SD_func·M_clin) / (SD_clin + SD_func).
    """
    s = _direction(higher_is_better)
    if kind == "a":
        return m_clinical + 2 * s * sd_clinical
    if m_functional is None or sd_functional is None:
        raise ChangeError(f"cutoff {kind!r} needs the functional (normative) mean and SD")
    if kind == "b":
        return m_functional - 2 * s * sd_functional
    if kind == "c":
        return (sd_clinical * m_functional + sd_functional * m_clinical) / (sd_clinical + sd_functional)
    raise ChangeError(f"unknown cutoff {kind!r}; use a, b, c or a number")


def is_clinical(score: np.ndarray, cutoff: float, higher_is_better: bool) -> np.ndarray:
    """On the dysfunctional side of the cutoff, or exactly on it (PHQ-9 ≥ 10 is clinical)."""
    s = _direction(higher_is_better)
    return s * np.asarray(score, dtype=float) <= s * cutoff


def clinical_expr(score: pl.Expr, cutoff: pl.Expr, higher_is_better: pl.Expr) -> pl.Expr:
    """`is_clinical` as a polars expression (a score on the cutoff is clinical)."""
    s = pl.when(higher_is_better).then(1.0).otherwise(-1.0)
    return s * score <= s * cutoff


def categorize(
    improved: np.ndarray,
    deteriorated: np.ndarray,
    clinical_pre: np.ndarray | None,
    clinical_post: np.ndarray | None,
    *,
    to_functional: np.ndarray | None = None,
    to_clinical: np.ndarray | None = None,
) -> np.ndarray:
    """recovered / improved / unchanged / deteriorated / harmed; without a cutoff only the middle three.

    Recovered = improved and moved into the functional population, harmed = deteriorated and moved into the
    clinical one. The move is read off the cutoff (clinical at pre and not at post, and the mirror) unless
    ``to_functional`` / ``to_clinical`` give it (Hageman-Arrindell's individual test of the post score).
    """
    out = np.where(improved, "improved", np.where(deteriorated, "deteriorated", "unchanged")).astype(object)
    if to_functional is None and clinical_pre is not None and clinical_post is not None:
        to_functional, to_clinical = clinical_pre & ~clinical_post, ~clinical_pre & clinical_post
    if to_functional is not None and to_clinical is not None:
        out[improved & to_functional] = "recovered"
        out[deteriorated & to_clinical] = "harmed"
    return out


# --- a whole analysis: long data in, one row per subject out --------------------------------------------


@dataclass
class ChangeAnalysis:
    """The result of `analyze_change`: one row per subject used, and what was done."""

    subjects: pl.DataFrame
    n_in_data: int
    n_used: int
    n_dropped_missing: int
    parameters: dict[str, Any]
    #: The categories this approach assigns, in order; None = the five (three without a cutoff) of CATEGORIES.
    categories: tuple[str, ...] | None = None
    #: Approach-specific results beside the counts (group-level summaries, the HLM fit), shown by `summary`.
    extra: dict[str, Any] = field(default_factory=dict)
    #: False when no category could be assigned (an HLM fit that did not converge): counts are then None.
    classified: bool = True

    def summary(self, group: str | None = None) -> dict[str, Any]:
        """Counts and fractions (0..1) per category, overall and per group, and any approach-specific results."""
        present = self.categories or tuple(
            c for c in CATEGORIES if self.parameters.get("cutoff") is not None or c not in ("recovered", "harmed")
        )

        def tally(frame: pl.DataFrame) -> dict[str, Any]:
            n = frame.height
            if not self.classified:
                return {"n": n, "categories": None}
            counts = dict(frame.group_by("category").len().iter_rows())
            return {
                "n": n,
                "categories": {
                    c: {"n": counts.get(c, 0), "fraction": counts.get(c, 0) / n if n else None} for c in present
                },
            }

        out: dict[str, Any] = {
            "n_in_data": self.n_in_data,
            "n_used": self.n_used,
            "n_dropped_missing": self.n_dropped_missing,
            "parameters": self.parameters,
            **tally(self.subjects),
        }
        if group:
            out["groups"] = {
                str(key[0]): tally(part) for key, part in self.subjects.sort(group).group_by(group, maintain_order=True)
            }
        out.update(self.extra)
        return out


def long_to_wide(
    frame: pl.DataFrame,
    *,
    id: str,
    time: str,
    outcome: str,
    pre: str,
    post: str | None = None,
    group: str | None = None,
) -> tuple[pl.DataFrame, int, int]:
    """Pick each subject's pre and post value from long data: (wide[id, pre, post, group?], n_in_data, n_dropped).

    Time values are compared as text so `--pre 1` matches an integer column and `--pre pre` a text one. When
    ``post`` is None the time column must have exactly two distinct values. Subjects missing pre, post or group
    are dropped listwise and counted.
    """
    for column in (id, time, outcome, *([group] if group else [])):
        if column not in frame.columns:
            raise ChangeError(f"column {column!r} is not in the data (columns: {', '.join(frame.columns)})")
    times = frame[time].cast(pl.String)
    if post is None:
        levels = sorted(set(times.drop_nulls().to_list()) - {pre})
        if len(levels) != 1 or pre not in set(times.to_list()):
            raise ChangeError(
                f"--post is needed: the time column {time!r} has values {sorted(set(times.drop_nulls().to_list()))}"
            )
        post = levels[0]
    for label in (pre, post):
        if label not in set(times.to_list()):
            raise ChangeError(f"time value {label!r} does not occur in column {time!r}")
    data = frame.with_columns(times.alias("_time"), pl.col(outcome).cast(pl.Float64, strict=False).alias("_y"))
    data = data.filter(pl.col("_time").is_in([pre, post]))
    if data.select(pl.struct(id, "_time").is_duplicated().any()).item():
        raise ChangeError(f"some subjects have more than one row at the same time value in {time!r}")
    ids = frame.select(pl.col(id).unique())
    n_in_data = ids.height
    wide = ids.join(data.filter(pl.col("_time") == pre).select(id, pl.col("_y").alias("pre")), on=id, how="left").join(
        data.filter(pl.col("_time") == post).select(id, pl.col("_y").alias("post")), on=id, how="left"
    )
    if group:
        groups = frame.select(id, group).filter(pl.col(group).is_not_null()).unique(id, keep="first")
        wide = wide.join(groups, on=id, how="left")
    complete = wide.drop_nulls([c for c in ("pre", "post", group) if c])
    complete = complete.filter(pl.col("pre").is_finite() & pl.col("post").is_finite())
    return complete.sort(id), n_in_data, n_in_data - complete.height


def analyze_change(
    wide: pl.DataFrame,
    *,
    id: str = "id",
    method: str = "jt",
    reliability: float,
    reliability_post: float | None = None,
    higher_is_better: bool,
    rci_sd: float | None = None,
    rc_points: float | None = None,
    cutoff: str | float | None = None,
    m_clinical: float | None = None,
    sd_clinical: float | None = None,
    m_functional: float | None = None,
    sd_functional: float | None = None,
    group: str | None = None,
    n_in_data: int | None = None,
    n_dropped: int = 0,
) -> ChangeAnalysis:
    """RCI, flags, clinical status and category for every complete subject of ``wide`` (columns id, pre, post).

    The RCI's SD defaults to the pre SD (n − 1) of the subjects used; the clinical mean/SD for cutoffs a and c
    default to their pre mean/SD. With ``rc_points`` the flags use the point threshold (the RCI is still shown).
    """
    pre = wide["pre"].to_numpy().astype(float)
    post = wide["post"].to_numpy().astype(float)
    if len(pre) < 2:
        raise ChangeError(f"at least two subjects with both pre and post values are needed, found {len(pre)}")
    rci, params = reliable_change_index(
        pre, post, method=method, reliability=reliability, reliability_post=reliability_post, sd_pre=rci_sd
    )
    change = post - pre
    if rc_points is not None:
        improved, deteriorated = point_change_flags(change, higher_is_better, rc_points)
    else:
        improved, deteriorated = reliable_change_flags(rci, higher_is_better, params.critical_value)
    cut: float | None = None
    clinical_pre = clinical_post = None
    if cutoff is not None:
        if isinstance(cutoff, str) and cutoff in ("a", "b", "c"):
            cut = clinical_cutoff(
                cutoff,
                higher_is_better=higher_is_better,
                m_clinical=float(np.mean(pre)) if m_clinical is None else m_clinical,
                sd_clinical=_sd(pre) if sd_clinical is None else sd_clinical,
                m_functional=m_functional,
                sd_functional=sd_functional,
            )
        else:
            cut = float(cutoff)
        clinical_pre = is_clinical(pre, cut, higher_is_better)
        clinical_post = is_clinical(post, cut, higher_is_better)
    category = categorize(improved, deteriorated, clinical_pre, clinical_post)
    columns: dict[str, Any] = {id: wide[id]}
    if group:
        columns[group] = wide[group]
    columns.update(
        pre=pre,
        post=post,
        change=change,
        rci=rci,
        improved=improved,
        deteriorated=deteriorated,
        clinical_pre=clinical_pre if clinical_pre is not None else pl.Series([None] * len(pre), dtype=pl.Boolean),
        clinical_post=clinical_post if clinical_post is not None else pl.Series([None] * len(pre), dtype=pl.Boolean),
        category=pl.Series(category.tolist(), dtype=pl.String),
    )
    parameters = {
        "method": method,
        "method_name": METHOD_NAMES[method],
        "rule": f"points >= {rc_points:g}" if rc_points is not None else "rci",
        "higher_is_better": higher_is_better,
        "cutoff_type": cutoff if isinstance(cutoff, str) else ("value" if cutoff is not None else None),
        "cutoff": cut,
        **{k: v for k, v in asdict(params).items() if k != "method"},
    }
    return ChangeAnalysis(
        subjects=pl.DataFrame(columns),
        n_in_data=len(pre) if n_in_data is None else n_in_data,
        n_used=len(pre),
        n_dropped_missing=n_dropped,
        parameters=parameters,
    )


# --- effect sizes ----------------------------------------------------------------------------------------


#: Above this many paired subjects bootstrap CIs use the percentile method instead of BCa (see effect_sizes).
BCA_MAX_N = 2000


def hedges_j(n: Any) -> Any:
    """Small-sample correction J = 1 − 3 / (4(n − 1) − 1) (a number, or element-wise on an array)."""
    return 1 - 3 / (4 * (np.asarray(n, dtype=float) - 1) - 1)


def standardized_mean_change(mean_change: Any, sd_pre: Any, higher_is_better: Any) -> np.ndarray:
    """d = s·(M_post − M_pre) / SD_pre, positive = better (Becker 1988): the one definition of d, used by
    `effect_sizes` and by every published table, element-wise. NaN where SD_pre is missing or not positive."""
    mean = np.asarray(mean_change, dtype=float)
    sd = np.asarray(sd_pre, dtype=float)
    s = np.where(np.asarray(higher_is_better, dtype=bool), 1.0, -1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, s * mean / np.where(sd > 0, sd, 1.0), np.nan)


def hedges_g(d: Any, n: Any) -> np.ndarray:
    """g = J(n)·d (Hedges' small-sample correction), element-wise; NaN where n < 3."""
    count = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count >= 3, np.asarray(d, dtype=float) * hedges_j(np.maximum(count, 3)), np.nan)


def _smc(pre: np.ndarray, post: np.ndarray, axis: int = -1) -> np.ndarray:
    return (np.mean(post, axis=axis) - np.mean(pre, axis=axis)) / np.std(pre, ddof=1, axis=axis)


def _dz(pre: np.ndarray, post: np.ndarray, axis: int = -1) -> np.ndarray:
    """mean / SD of the differences; undefined (NaN, then None) when every difference is the same."""
    diff = post - pre
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.mean(diff, axis=axis) / np.std(diff, ddof=1, axis=axis)


#: The sums an effect size and its delta-method CI need (over paired subjects): u = change (post − pre), v = the
#: scores the SD is taken of (pre for d and g; the changes themselves for d_z).
MOMENT_SUMS = ("n", "su", "sv", "suu", "svv", "suv", "suvv", "svvv", "svvvv")


def moment_sums(u: np.ndarray, v: np.ndarray) -> dict[str, float]:
    """`MOMENT_SUMS` of one group: what SQL sums per published row, and what `delta_method_ci_from_moments` reads."""
    return {"n": float(len(u)), "su": float(u.sum()), "sv": float(v.sum()), "suu": float((u * u).sum()),
            "svv": float((v * v).sum()), "suv": float((u * v).sum()), "suvv": float((u * v * v).sum()),
            "svvv": float((v**3).sum()), "svvvv": float((v**4).sum())}  # fmt: skip


def delta_method_ci_from_moments(
    sums: dict[str, Any], factor: Any, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate and normal CI of ``factor · mean(u) / SD(v)`` with the nonparametric delta-method SE, from sums
    (`MOMENT_SUMS`, scalars or arrays: one published row each) — the one implementation, also behind
    `effect_sizes` above `bootstrap_max_n` subjects.

    Influence of subject i: IF_i = factor · [(u_i − ū) − c·((v_i − v̄)² − σ²)] / σ with c = ū/(2σ²), σ = SD(v)
    (n − 1); SE = √(Σ IF_i²) / n (Efron & Tibshirani 1993, §21: the infinitesimal jackknife). Expanding the square,
    Σ IF² = factor²/σ² · (A − 2cB + c²D) with A = Σ(u − ū)², B = Σ(u − ū)(v − v̄)², D = Σ((v − v̄)² − σ²)², each from
    the raw sums. NaN where n < 3 or σ is not positive.
    """
    n = np.asarray(sums["n"], dtype=float)
    su, sv, suu, svv = (np.asarray(sums[k], dtype=float) for k in ("su", "sv", "suu", "svv"))
    suv, suvv, svvv, svvvv = (np.asarray(sums[k], dtype=float) for k in ("suv", "suvv", "svvv", "svvvv"))
    f = np.asarray(factor, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu, mv = su / n, sv / n
        central2 = svv - n * mv**2
        var = central2 / (n - 1)
        sigma = np.sqrt(var)
        a = suu - n * mu**2
        b = (suvv - 2 * mv * suv + mv**2 * su) - mu * central2
        central4 = svvvv - 4 * mv * svvv + 6 * mv**2 * svv - 4 * mv**3 * sv + n * mv**4
        d = central4 - 2 * var * central2 + n * var**2
        c = mu / (2 * var)
        sum_if2 = f**2 / var * (a - 2 * c * b + c**2 * d)
        se = np.sqrt(np.maximum(sum_if2, 0)) / n
        estimate = f * mu / sigma
        z = float(stats.norm.ppf(0.5 + confidence / 2))
        valid = (n >= 3) & (sigma > 0)
        return (
            np.where(valid, estimate, np.nan),
            np.where(valid, estimate - z * se, np.nan),
            np.where(valid, estimate + z * se, np.nan),
        )


def _delta_method_ci(
    u: np.ndarray, v: np.ndarray, factor: float, confidence: float
) -> tuple[float | None, float | None]:
    """`delta_method_ci_from_moments` for one group of subjects."""
    _, lo, hi = delta_method_ci_from_moments(moment_sums(u, v), factor, confidence)
    return (float(lo), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else (None, None)


def effect_sizes(
    pre: Sequence[float] | np.ndarray,
    post: Sequence[float] | np.ndarray,
    *,
    higher_is_better: bool,
    n_resamples: int = 2000,
    seed: int = 20261,
    confidence: float = 0.95,
    intervals: tuple[str, ...] = ("d", "g", "dz"),
    bootstrap_max_n: int = BCA_MAX_N,
) -> dict[str, Any]:
    """Paired pre/post effect sizes, signed so that positive = better, each with a seeded bootstrap CI (BCa).

    d   = s·(M_post − M_pre) / SD_pre   (standardized mean change, pre-test SD; Becker 1988)
    g   = J·d, J = 1 − 3/(4(n − 1) − 1)  (Hedges' small-sample correction)
    d_z = s·mean(post − pre) / SD(post − pre)

    CIs are computed for the statistics named in ``intervals``. Up to ``bootstrap_max_n`` paired subjects they are
    BCa bootstrap intervals. Above it (BCa's jackknife grows with n², and any bootstrap with n × resamples)
    they are normal intervals with the nonparametric delta-method standard error (`_delta_method_ci`) — the
    large-sample limit the bootstrap approximates, with no Monte Carlo error and no normality assumption.
    ``ci_method`` says which was used.
    """
    x = np.asarray(pre, dtype=float)
    y = np.asarray(post, dtype=float)
    n = len(x)
    s = _direction(higher_is_better)
    out: dict[str, Any] = {
        "n": n,
        "mean_pre": float(np.mean(x)) if n else None,
        "mean_post": float(np.mean(y)) if n else None,
        "sd_pre": _sd(x) if n > 1 else None,
        "sd_post": _sd(y) if n > 1 else None,
        "mean_change": float(np.mean(y - x)) if n else None,
        "d": None, "d_ci": (None, None), "g": None, "g_ci": (None, None), "dz": None, "dz_ci": (None, None),
        "d_definition": "standardized mean change with the pre-test SD, positive = better",
        "ci_method": f"bootstrap BCa, {n_resamples} resamples, seed {seed}" if n <= bootstrap_max_n
        else "normal, nonparametric delta-method SE",
    }  # fmt: skip
    if n < 3 or not _sd(x) > 0:
        return out
    j = hedges_j(n)
    statistics = {
        "d": lambda a, b, axis=-1: s * _smc(a, b, axis),
        "g": lambda a, b, axis=-1: s * j * _smc(a, b, axis),
        "dz": lambda a, b, axis=-1: s * _dz(a, b, axis),
    }
    for name, statistic in statistics.items():
        value = float(statistic(x, y))
        out[name] = value if math.isfinite(value) else None
        if name not in intervals:
            continue
        if n > bootstrap_max_n:
            diff = y - x
            factor = s * (j if name == "g" else 1.0)
            out[f"{name}_ci"] = _delta_method_ci(diff, diff if name == "dz" else x, factor, confidence)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = stats.bootstrap(
                    (x, y), statistic, paired=True, vectorized=True, n_resamples=n_resamples,
                    confidence_level=confidence, method="BCa",
                    rng=np.random.default_rng(seed),
                )  # fmt: skip
                lo, hi = float(result.confidence_interval.low), float(result.confidence_interval.high)
            except (ValueError, FloatingPointError):
                lo = hi = math.nan
        out[f"{name}_ci"] = (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else (None, None)
    return out


# --- NHS Talking Therapies -----------------------------------------------------------------------------


def nhs_talking_therapies(episodes: pl.DataFrame, instruments: tuple[str, str] = ("phq9", "gad7")) -> dict[str, Any]:
    """NHS Talking Therapies outcome metrics for an instrument pair (DESIGN 5.3).

    ``episodes`` has one row per episode with ``ended`` (bool), ``attended_treatment`` (attended intake, regular
    or closing sessions) and, for each instrument ``i`` of the pair: ``{i}_paired``, ``{i}_clinical_baseline``,
    ``{i}_clinical_latest``, ``{i}_improved``, ``{i}_deteriorated``.

    - finished treatment: ended with ≥ 2 attended treatment sessions; the denominator is those with paired
      scores on both measures (paired-data completeness = that / finished);
    - caseness at start: either measure clinical at baseline;
    - recovery: at caseness at start and neither clinical at the end (denominator: caseness at start);
    - reliable improvement: either reliably improved and neither reliably deteriorated;
    - reliable deterioration: either reliably deteriorated and neither reliably improved;
    - reliable recovery: recovery and reliable improvement (denominator: caseness at start).
    """
    a, b = instruments
    finished = episodes.filter(pl.col("ended") & (pl.col("attended_treatment") >= 2))
    paired = finished.filter(pl.col(f"{a}_paired") & pl.col(f"{b}_paired"))

    def either(suffix: str) -> pl.Expr:
        return pl.col(f"{a}_{suffix}") | pl.col(f"{b}_{suffix}")

    flags = paired.select(
        caseness=either("clinical_baseline"),
        recovered=either("clinical_baseline") & ~either("clinical_latest"),
        improved=either("improved") & ~either("deteriorated"),
        deteriorated=either("deteriorated") & ~either("improved"),
    ).with_columns(reliable_recovery=pl.col("recovered") & pl.col("improved"))
    totals = (
        {k: int(v or 0) for k, v in flags.sum().row(0, named=True).items()}
        if flags.height
        else dict.fromkeys(("caseness", "recovered", "improved", "deteriorated", "reliable_recovery"), 0)
    )

    def rate(numerator: int, denominator: int) -> dict[str, Any]:
        return {
            "numerator": numerator,
            "denominator": denominator,
            "rate": numerator / denominator if denominator else None,
        }

    return {
        "instruments": list(instruments),
        "finished_treatment": finished.height,
        "paired": paired.height,
        "paired_completeness": rate(paired.height, finished.height),
        "caseness_at_start": rate(totals["caseness"], paired.height),
        "recovery": rate(totals["recovered"], totals["caseness"]),
        "reliable_improvement": rate(totals["improved"], paired.height),
        "reliable_deterioration": rate(totals["deteriorated"], paired.height),
        "reliable_recovery": rate(totals["reliable_recovery"], totals["caseness"]),
    }


def cronbach_alpha(items: np.ndarray) -> float | None:
    """α = k/(k − 1) · (1 − Σ var(item) / var(total)), on complete rows (subjects × items); None when undefined."""
    matrix = np.asarray(items, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < 2 or matrix.shape[0] < 3:
        return None
    k = matrix.shape[1]
    total_var = matrix.sum(axis=1).var(ddof=1)
    if not total_var > 0:
        return None
    return float(k / (k - 1) * (1 - matrix.var(axis=0, ddof=1).sum() / total_var))


# --- the pipeline's episode-level change (DESIGN 5.2, 5.3) ---------------------------------------------------

#: A baseline may be administered up to this many days after the first attended treatment session (the default of
#: the setting `outcomes.baseline_window_days`, for the researcher API).
BASELINE_WINDOW_DAYS = 14
PAIR_KEY = ["client_id", "instrument", "scale"]
#: What `pair_baseline_latest` gives per episode × scale besides ``first_session`` (all kept in `client_change`).
PAIR_COLUMNS = [
    *PAIR_KEY, "baseline_date", "baseline_score", "baseline_session_number", "latest_date", "latest_score",
    "latest_session_number", "n_administrations", "paired",
]  # fmt: skip


def treatment_sessions(sessions: pl.DataFrame) -> pl.DataFrame:
    """Attended non-consultation sessions (intake, regular, closing) in date order, each with its
    `session_number` within the episode: the one definition of what a session number counts (DESIGN 5.2)."""
    order = ["client_id", "session_date", *(["session_id"] if "session_id" in sessions.columns else [])]
    return (
        sessions.filter((pl.col("status") == "attended") & (pl.col("kind") != "consultation"))
        .sort(order)
        .with_columns(pl.int_range(1, pl.len() + 1).over("client_id").cast(pl.Int64).alias("session_number"))
    )


def session_numbers(events: pl.DataFrame, sessions: pl.DataFrame, date_column: str) -> pl.Series:
    """For each event row, the count of attended treatment sessions of its client on or before its date."""
    counted = (
        treatment_sessions(sessions)
        .select("client_id", pl.col("session_date").alias("_d"), pl.col("session_number").alias("_n"))
        .group_by("client_id", "_d")
        .agg(pl.col("_n").max())
        .sort("_d")
    )
    keyed = events.select("client_id", pl.col(date_column).alias("_d")).with_row_index("_i").sort("_d")
    joined = keyed.join_asof(counted, on="_d", by="client_id", strategy="backward", check_sortedness=False).sort("_i")
    return joined["_n"].fill_null(0).cast(pl.Int64)


def pair_baseline_latest(
    scores: pl.DataFrame, sessions: pl.DataFrame, window_days: int = BASELINE_WINDOW_DAYS
) -> pl.DataFrame:
    """Baseline and latest administration per episode × instrument × scale (DESIGN 5.2).

    Baseline = the first scored administration, provided it is no later than the first attended treatment
    session + ``window_days`` (settings `outcomes.baseline_window_days`, 14; otherwise the episode has no baseline
    for that scale); latest = the last scored administration on a later date. ``paired`` when both exist.
    """
    first_session = (
        treatment_sessions(sessions).group_by("client_id").agg(pl.col("session_date").min().alias("first_session"))
    )
    scored = scores.filter(pl.col("score").is_not_null()).sort([*PAIR_KEY, "administered_on"])
    per = scored.group_by(PAIR_KEY, maintain_order=True).agg(
        pl.col("administered_on").first().alias("first_date"),
        pl.col("score").first().alias("first_score"),
        pl.col("administered_on").last().alias("last_date"),
        pl.col("score").last().alias("last_score"),
        pl.len().alias("n_administrations"),
    )
    per = per.join(first_session, on="client_id", how="left")
    has_baseline = pl.col("first_session").is_not_null() & (
        pl.col("first_date") <= pl.col("first_session") + pl.duration(days=window_days)
    )
    pairs = (
        per.with_columns(
            pl.when(has_baseline).then(pl.col("first_date")).alias("baseline_date"),
            pl.when(has_baseline).then(pl.col("first_score")).alias("baseline_score"),
        )
        .with_columns(
            pl.when(pl.col("baseline_date").is_not_null() & (pl.col("last_date") > pl.col("baseline_date")))
            .then(pl.col("last_date"))
            .alias("latest_date"),
        )
        .with_columns(
            pl.when(pl.col("latest_date").is_not_null()).then(pl.col("last_score")).alias("latest_score"),
            pl.col("latest_date").is_not_null().alias("paired"),
        )
    )
    pairs = pairs.with_columns(
        session_numbers(pairs, sessions, "baseline_date").alias("baseline_session_number"),
        session_numbers(pairs, sessions, "latest_date").alias("latest_session_number"),
    ).with_columns(
        pl.when(pl.col("baseline_date").is_null())
        .then(None)
        .otherwise(pl.col("baseline_session_number"))
        .alias("baseline_session_number"),
        pl.when(pl.col("latest_date").is_null())
        .then(None)
        .otherwise(pl.col("latest_session_number"))
        .alias("latest_session_number"),
    )
    return pairs.select(*PAIR_KEY, "first_session", *PAIR_COLUMNS[len(PAIR_KEY) :])


def baseline_items(
    measures: pl.DataFrame, pairs: pl.DataFrame, registry: Registry
) -> dict[tuple[str, str], pl.DataFrame]:
    """Per scale, the complete baseline item answers of the episodes in ``pairs`` (what alpha is computed from).
    Episodes are independent, so the matrices of disjoint sets of episodes can be stacked."""
    from pipeline.score import baseline_item_matrix

    baselines = pairs.filter(pl.col("baseline_date").is_not_null()).select(
        "client_id", "instrument", pl.col("baseline_date").alias("administered_on")
    )
    return baseline_item_matrix(measures, baselines, registry)


def scale_reliability(measures: pl.DataFrame, pairs: pl.DataFrame, registry: Registry) -> pl.DataFrame:
    """Cronbach's alpha of every scale from the practice's own baseline administrations (complete items), next
    to the published reliability; ``reliability_used`` is the published one where it exists."""
    return reliability_from_baselines(baseline_items(measures, pairs, registry), registry)


def reliability_from_baselines(matrices: dict[tuple[str, str], pl.DataFrame], registry: Registry) -> pl.DataFrame:
    """`scale_reliability` from the baseline item matrices (see `baseline_items`)."""
    rows = []
    for inst in registry.instruments.values():
        for scale in inst.scales.values():
            matrix = matrices.get((inst.id, scale.id))
            alpha = cronbach_alpha(matrix.to_numpy()) if matrix is not None else None
            used = scale.reliability if scale.reliability is not None else alpha
            rows.append(
                {
                    "instrument": inst.id,
                    "scale": scale.id,
                    "n_baseline_complete": 0 if matrix is None else matrix.height,
                    "alpha_estimated": alpha,
                    "reliability_published": scale.reliability,
                    "reliability_published_source": scale.reliability_source or None,
                    "reliability_used": used,
                    "reliability_source": "published"
                    if scale.reliability is not None
                    else ("estimated" if alpha is not None else None),
                    "registry_version": registry.version,
                }
            )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "alpha_estimated": pl.Float64,
            "reliability_published": pl.Float64,
            "reliability_used": pl.Float64,
        },
    )


CLIENT_CHANGE_COLUMNS = [
    "client_id", "instrument", "scale", "higher_is_better", "baseline_date", "baseline_score",
    "baseline_session_number", "latest_date", "latest_score", "latest_session_number", "n_administrations",
    "paired", "change", "rci", "reliably_improved", "reliably_deteriorated", "rc_rule", "rc_threshold", "rc_sd",
    "rc_sd_source", "reliability", "reliability_source", "cutoff", "cutoff_source", "clinical_baseline",
    "clinical_latest", "category", "registry_version",
]  # fmt: skip


CLIENT_CHANGE_SCHEMA: dict[str, pl.DataType] = {
    **dict.fromkeys(["client_id", "instrument", "scale"], pl.String()),
    "higher_is_better": pl.Boolean(), "baseline_date": pl.Date(), "baseline_score": pl.Float64(),
    "baseline_session_number": pl.Int64(), "latest_date": pl.Date(), "latest_score": pl.Float64(),
    "latest_session_number": pl.Int64(), "n_administrations": pl.UInt32(), "paired": pl.Boolean(),
    "change": pl.Float64(), "rci": pl.Float64(), "reliably_improved": pl.Boolean(),
    "reliably_deteriorated": pl.Boolean(), "rc_rule": pl.String(), "rc_threshold": pl.Float64(), "rc_sd": pl.Float64(),
    "rc_sd_source": pl.String(), "reliability": pl.Float64(), "reliability_source": pl.String(),
    "cutoff": pl.Float64(), "cutoff_source": pl.String(), "clinical_baseline": pl.Boolean(),
    "clinical_latest": pl.Boolean(), "category": pl.String(), "registry_version": pl.String(),
}  # fmt: skip


def build_client_change(pairs: pl.DataFrame, reliability: pl.DataFrame, registry: Registry) -> pl.DataFrame:
    """The `client_change` table: one row per episode × instrument × scale with any scored administration.

    Reliable change uses the scale's conventional threshold in points where the registry has one (PHQ-9 6,
    GAD-7 4: reliably improved when s·change ≥ points), else Jacobson-Truax with the registry's SD for the
    scale (IFS Self 7.34) or the SD (n − 1) of the baseline scores of the paired episodes, and the published
    reliability (or, where none is published, Cronbach's alpha from the practice's baselines). Clinical status
    uses the scale's caseness cutoff (a score on it is clinical), else cutoff c from clinical and functional
    norms when both are in the registry; without a cutoff the categories are improved / unchanged / deteriorated.
    """
    used = {(r["instrument"], r["scale"]): r for r in reliability.iter_rows(named=True)}
    parts = []
    for (inst_id, scale_id), part in pairs.group_by("instrument", "scale", maintain_order=True):
        scale = registry[str(inst_id)].scales[str(scale_id)]
        rel_row = used.get((inst_id, scale_id), {})
        r = rel_row.get("reliability_used")
        paired = part.filter("paired")
        pre = paired["baseline_score"].to_numpy().astype(float)
        post = paired["latest_score"].to_numpy().astype(float)
        sd, sd_source = (
            (scale.rc_sd, "registry") if scale.rc_sd is not None else (_sd(pre), "baseline SD of paired episodes")
        )
        rci = np.full(len(pre), np.nan)
        if r is not None and len(pre) and sd == sd and sd > 0:
            rci, _ = reliable_change_index(pre, post, method="jt", reliability=float(r), sd_pre=sd)
        change = post - pre
        if scale.rc_points is not None:
            rule, threshold = "points", scale.rc_points
            improved, deteriorated = point_change_flags(change, scale.higher_is_better, scale.rc_points)
        elif r is not None and sd == sd and sd > 0:
            rule, threshold = "jacobson_truax", jt_critical_difference(sd, float(r))
            improved, deteriorated = reliable_change_flags(rci, scale.higher_is_better)
        else:
            rule, threshold = None, None
            improved = deteriorated = np.zeros(len(pre), dtype=bool)
        cutoff, cutoff_source = _scale_cutoff(scale)
        clin_pre = is_clinical(pre, cutoff, scale.higher_is_better) if cutoff is not None else None
        clin_post = is_clinical(post, cutoff, scale.higher_is_better) if cutoff is not None else None
        category = categorize(improved, deteriorated, clin_pre, clin_post) if rule else np.full(len(pre), None)
        computed = paired.select(PAIR_KEY).with_columns(
            pl.Series("change", change, dtype=pl.Float64),
            pl.Series("rci", rci, dtype=pl.Float64).fill_nan(None),
            _flag_column("reliably_improved", improved if rule else None),
            _flag_column("reliably_deteriorated", deteriorated if rule else None),
            _flag_column("clinical_baseline", clin_pre),
            _flag_column("clinical_latest", clin_post),
            pl.Series("category", category.tolist(), dtype=pl.String),
        )
        parts.append(
            part.join(computed, on=PAIR_KEY, how="left").with_columns(
                pl.lit(scale.higher_is_better).alias("higher_is_better"),
                pl.lit(rule, pl.String).alias("rc_rule"),
                pl.lit(threshold, pl.Float64).alias("rc_threshold"),
                pl.lit(sd if sd == sd else None, pl.Float64).alias("rc_sd"),
                pl.lit(sd_source, pl.String).alias("rc_sd_source"),
                pl.lit(r, pl.Float64).alias("reliability"),
                pl.lit(rel_row.get("reliability_source"), pl.String).alias("reliability_source"),
                pl.lit(cutoff, pl.Float64).alias("cutoff"),
                pl.lit(cutoff_source, pl.String).alias("cutoff_source"),
                pl.lit(registry.version).alias("registry_version"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=CLIENT_CHANGE_SCHEMA)
    out = pl.concat(parts, how="diagonal_relaxed")
    # Clinical status at baseline is known for unpaired episodes too (NHS caseness at start needs it).
    known = pl.col("cutoff").is_not_null() & pl.col("baseline_score").is_not_null()
    out = out.with_columns(
        pl.when(pl.col("clinical_baseline").is_null() & known)
        .then(clinical_expr(pl.col("baseline_score"), pl.col("cutoff"), pl.col("higher_is_better")))
        .otherwise(pl.col("clinical_baseline"))
        .alias("clinical_baseline")
    )
    return out.select(CLIENT_CHANGE_COLUMNS).sort(PAIR_KEY)


def _flag_column(name: str, values: np.ndarray | None) -> pl.Expr | pl.Series:
    """A boolean column, or all-null when the flag is undefined (no rule, no cutoff)."""
    return pl.lit(None, pl.Boolean).alias(name) if values is None else pl.Series(name, values, dtype=pl.Boolean)


def _scale_cutoff(scale: Scale) -> tuple[float | None, str | None]:
    if scale.caseness_cutoff is not None:
        return scale.caseness_cutoff, "caseness"
    if None not in (scale.clinical_mean, scale.clinical_sd, scale.functional_mean, scale.functional_sd):
        value = clinical_cutoff(
            "c", higher_is_better=scale.higher_is_better, m_clinical=scale.clinical_mean,  # type: ignore[arg-type]
            sd_clinical=scale.clinical_sd, m_functional=scale.functional_mean, sd_functional=scale.functional_sd,  # type: ignore[arg-type]
        )  # fmt: skip
        return value, "jacobson_truax_c"
    return None, None
