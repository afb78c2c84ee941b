"""Reliable and clinically significant change: hand-computed values, boundaries and both directions."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from pipeline import change as cs

PRE = np.array([10.0, 20.0, 30.0, 25.0])
POST = np.array([12.0, 11.0, 35.0, 14.0])
R = 0.8


def _moments() -> tuple[float, float, float, float, float]:
    m_pre, m_post = PRE.mean(), POST.mean()
    sd_pre = math.sqrt(sum((x - m_pre) ** 2 for x in PRE) / 3)
    sd_post = math.sqrt(sum((x - m_post) ** 2 for x in POST) / 3)
    rho = sum((a - m_pre) * (b - m_post) for a, b in zip(PRE, POST, strict=True)) / 3 / (sd_pre * sd_post)
    return m_pre, m_post, sd_pre, sd_post, rho


def expected_rci(method: str, r_post: float = R) -> list[float]:
    """Each formula written out by hand, independently of the module."""
    m_pre, m_post, sd, sd_post, rho = _moments()
    out = []
    for x, y in zip(PRE, POST, strict=True):
        if method == "jt":
            out.append((y - x) / (math.sqrt(2) * sd * math.sqrt(1 - R)))
        elif method == "gln":
            out.append(((y - m_pre) - R * (x - m_pre)) / (sd * math.sqrt(1 - R * R)))
        elif method == "hll":
            out.append(((y - m_post) - R * (x - m_pre)) / (sd * math.sqrt(1 - R * R)))
        elif method == "en":
            out.append((y - (R * (x - m_pre) + m_pre)) / (sd * math.sqrt(1 - R)))
        elif method == "nk":
            out.append((y - (R * (x - m_pre) + m_pre)) / math.sqrt(R * R * sd * sd * (1 - R) + sd * sd * (1 - r_post)))
        elif method == "ha":
            se = sd * math.sqrt(1 - R)
            r1 = (sd**2 - se**2) / sd**2
            r2 = (sd_post**2 - se**2) / sd_post**2
            rdd = (sd**2 * r1 + sd_post**2 * r2 - 2 * sd * sd_post * rho) / (
                sd**2 + sd_post**2 - 2 * sd * sd_post * rho
            )
            out.append(((y - x) * rdd + (m_post - m_pre) * (1 - rdd)) / (math.sqrt(rdd) * math.sqrt(2) * se))
    return out


@pytest.mark.parametrize("method", cs.METHODS)
def test_every_method_matches_its_formula(method: str) -> None:
    kwargs = {"reliability_post": 0.6} if method == "nk" else {}
    rci, params = cs.reliable_change_index(PRE, POST, method=method, reliability=R, **kwargs)
    assert rci == pytest.approx(expected_rci(method, 0.6 if method == "nk" else R), rel=1e-12)
    assert params.critical_value == (cs.Z_ONE_SIDED if method == "ha" else cs.Z_TWO_SIDED)


def test_jt_by_hand_with_a_given_sd() -> None:
    rci, params = cs.reliable_change_index([20, 10], [10, 12], method="jt", reliability=0.8, sd_pre=5)
    s_diff = math.sqrt(2) * 5 * math.sqrt(0.2)
    assert rci == pytest.approx([-10 / s_diff, 2 / s_diff])
    assert params.sd_pre == 5
    assert cs.jt_critical_difference(5, 0.8) == pytest.approx(cs.Z_TWO_SIDED * s_diff)


def test_critical_values_are_the_exact_normal_quantiles() -> None:
    from scipy.stats import norm

    assert cs.Z_TWO_SIDED == norm.ppf(0.975) == 1.959963984540054
    assert pytest.approx(norm.ppf(0.95), abs=1e-15) == cs.Z_ONE_SIDED


@pytest.mark.parametrize("higher", [True, False])
def test_flags_are_strict_at_the_critical_value(higher: bool) -> None:
    z = cs.Z_TWO_SIDED
    s = 1 if higher else -1
    rci = np.array([s * z, -s * z, s * np.nextafter(z, 10), -s * np.nextafter(z, 10), 0.0])
    improved, deteriorated = cs.reliable_change_flags(rci, higher)
    assert improved.tolist() == [False, False, True, False, False]
    assert deteriorated.tolist() == [False, False, False, True, False]


def test_point_threshold_is_inclusive_and_directional() -> None:
    change = np.array([-6.0, -5.0, 6.0, 5.9])
    improved, deteriorated = cs.point_change_flags(change, higher_is_better=False, points=6)
    assert improved.tolist() == [True, False, False, False]
    assert deteriorated.tolist() == [False, False, True, False]
    improved, deteriorated = cs.point_change_flags(change, higher_is_better=True, points=6)
    assert improved.tolist() == [False, False, True, False]


def test_cutoffs_both_directions() -> None:
    lower = {"m_clinical": 20, "sd_clinical": 5, "m_functional": 8, "sd_functional": 4}
    assert cs.clinical_cutoff("a", higher_is_better=False, **lower) == 10
    assert cs.clinical_cutoff("b", higher_is_better=False, **lower) == 16  # functional SD, as in the paper
    assert cs.clinical_cutoff("c", higher_is_better=False, **lower) == pytest.approx((5 * 8 + 4 * 20) / 9)
    higher = {"m_clinical": 20, "sd_clinical": 5, "m_functional": 35, "sd_functional": 4}
    assert cs.clinical_cutoff("a", higher_is_better=True, **higher) == 30
    assert cs.clinical_cutoff("b", higher_is_better=True, **higher) == 27
    with pytest.raises(cs.ChangeError, match="functional"):
        cs.clinical_cutoff("c", higher_is_better=True, m_clinical=1, sd_clinical=1)


def test_a_score_on_the_cutoff_is_clinical() -> None:
    assert cs.is_clinical(np.array([10.0, 9.99, 10.01]), 10, higher_is_better=False).tolist() == [True, False, True]
    assert cs.is_clinical(np.array([30.0, 29.9, 30.1]), 30, higher_is_better=True).tolist() == [True, True, False]


def test_categories() -> None:
    improved = np.array([True, True, False, False, False])
    deteriorated = np.array([False, False, True, True, False])
    clin_pre = np.array([True, True, False, True, True])
    clin_post = np.array([False, True, True, True, True])
    assert cs.categorize(improved, deteriorated, clin_pre, clin_post).tolist() == [
        "recovered", "improved", "harmed", "deteriorated", "unchanged",
    ]  # fmt: skip
    assert cs.categorize(improved, deteriorated, None, None).tolist() == [
        "improved", "improved", "deteriorated", "deteriorated", "unchanged",
    ]  # fmt: skip


def test_long_to_wide_counts_missing_and_infers_post() -> None:
    long = pl.DataFrame(
        {"who": ["a", "a", "b", "b", "c", "d"], "t": ["pre", "post", "pre", "post", "pre", "post"],
         "y": [10.0, 5.0, 8.0, None, 3.0, 4.0]}
    )  # fmt: skip
    wide, n, dropped = cs.long_to_wide(long, id="who", time="t", outcome="y", pre="pre")
    assert (wide["who"].to_list(), n, dropped) == (["a"], 4, 3)
    with pytest.raises(cs.ChangeError, match="--post is needed"):
        cs.long_to_wide(
            long.with_columns(pl.lit("x").alias("t")).vstack(long), id="who", time="t", outcome="y", pre="pre"
        )
    with pytest.raises(cs.ChangeError, match="more than one row"):
        cs.long_to_wide(long.vstack(long.head(1)), id="who", time="t", outcome="y", pre="pre", post="post")
    with pytest.raises(cs.ChangeError, match="not in the data"):
        cs.long_to_wide(long, id="who", time="when", outcome="y", pre="pre")


def test_analysis_summary_fractions_and_groups() -> None:
    wide = pl.DataFrame({"id": [1, 2, 3, 4], "pre": PRE, "post": POST, "g": ["x", "x", "y", "y"]})
    analysis = cs.analyze_change(wide, reliability=0.8, higher_is_better=False, cutoff=15.0, group="g")
    summary = analysis.summary("g")
    assert summary["n_used"] == 4
    assert sum(c["n"] for c in summary["categories"].values()) == 4
    assert sum(c["fraction"] for c in summary["categories"].values()) == pytest.approx(1)
    assert set(summary["groups"]) == {"x", "y"}
    # SD(pre) = 8.54, so the JT threshold is 1.96 · 5.40 = 10.6 points: only subject 4 (25 -> 14) changed reliably
    assert analysis.subjects["category"].to_list() == ["unchanged", "unchanged", "unchanged", "recovered"]


def test_effect_sizes_by_hand_and_seeded() -> None:
    pre, post = [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 5.0, 8.0, 9.0]
    es = cs.effect_sizes(pre, post, higher_is_better=True, n_resamples=500)
    sd_pre = np.std(pre, ddof=1)
    d = (np.mean(post) - np.mean(pre)) / sd_pre
    assert es["d"] == pytest.approx(d)
    assert es["g"] == pytest.approx((1 - 3 / (4 * 4 - 1)) * d)
    diff = np.subtract(post, pre)
    assert es["dz"] == pytest.approx(diff.mean() / diff.std(ddof=1))
    assert es == cs.effect_sizes(pre, post, higher_is_better=True, n_resamples=500)  # seeded
    lower = cs.effect_sizes(pre, post, higher_is_better=False, n_resamples=500)
    assert lower["d"] == pytest.approx(-d)  # positive = better
    for name in ("d", "g", "dz"):
        lo, hi = lower[f"{name}_ci"]
        assert lo is None or lo <= lower[name] <= hi


def test_effect_sizes_need_three_subjects_and_spread() -> None:
    assert cs.effect_sizes([1, 2], [2, 3], higher_is_better=True)["d"] is None
    assert cs.effect_sizes([2, 2, 2], [1, 2, 3], higher_is_better=True)["d"] is None


def test_cronbach_alpha() -> None:
    perfect = np.array([[1, 1, 1], [2, 2, 2], [3, 3, 3], [5, 5, 5]])
    assert cs.cronbach_alpha(perfect) == pytest.approx(1.0)
    m = np.array([[1, 2, 2], [2, 2, 3], [3, 4, 3], [4, 5, 5], [2, 1, 2]], dtype=float)
    k = 3
    expected = k / (k - 1) * (1 - m.var(axis=0, ddof=1).sum() / m.sum(axis=1).var(ddof=1))
    assert cs.cronbach_alpha(m) == pytest.approx(expected)
    assert cs.cronbach_alpha(m[:2]) is None


def test_nhs_talking_therapies_metrics() -> None:
    rows = [
        # ended, attended, phq paired/clin_b/clin_l/imp/det, gad paired/clin_b/clin_l/imp/det
        (True, 5, True, True, False, True, False, True, True, False, True, False),  # recovered, reliably recovered
        (True, 5, True, True, False, False, False, True, False, False, False, False),  # recovered, not reliable
        (True, 5, True, True, True, True, False, True, True, True, False, True),  # improved on one, deteriorated other
        (True, 5, True, False, False, False, True, True, False, False, False, False),  # not caseness, deteriorated
        (True, 1, True, True, False, True, False, True, True, False, True, False),  # one session: not finished
        (False, 9, True, True, False, True, False, True, True, False, True, False),  # still open
        (True, 4, False, True, None, None, None, True, True, False, True, False),  # not paired on PHQ-9
    ]
    names = ["ended", "attended_treatment"] + [
        f"{i}_{f}"
        for i in ("phq9", "gad7")
        for f in ("paired", "clinical_baseline", "clinical_latest", "improved", "deteriorated")
    ]
    frame = pl.DataFrame(rows, schema=names, orient="row")
    m = cs.nhs_talking_therapies(frame)
    assert (m["finished_treatment"], m["paired"]) == (5, 4)
    assert m["paired_completeness"] == {"numerator": 4, "denominator": 5, "rate": 0.8}
    assert m["caseness_at_start"]["numerator"] == 3 and m["caseness_at_start"]["denominator"] == 4
    assert m["recovery"] == {"numerator": 2, "denominator": 3, "rate": 2 / 3}
    assert m["reliable_improvement"]["numerator"] == 1  # row 3 improved on one but deteriorated on the other
    assert m["reliable_deterioration"]["numerator"] == 1
    assert m["reliable_recovery"] == {"numerator": 1, "denominator": 3, "rate": 1 / 3}


@pytest.mark.parametrize("shape", ["normal", "skewed"])
def test_large_sample_effect_size_ci_agrees_with_the_bca_bootstrap(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above BCA_MAX_N the CI is delta-method normal; at n = 2,500 it must match BCa to Monte Carlo error."""
    from pipeline import change

    rng = np.random.default_rng(7)
    n = change.BCA_MAX_N + 500
    pre = rng.normal(15, 5, n) if shape == "normal" else rng.gamma(2, 4, n)
    post = pre - 3 + rng.normal(0, 4, n) if shape == "normal" else pre * rng.uniform(0.3, 1.1, n)
    fast = change.effect_sizes(pre, post, higher_is_better=False)
    assert fast["ci_method"].startswith("normal")
    monkeypatch.setattr(change, "BCA_MAX_N", 10**9)
    boot = change.effect_sizes(pre, post, higher_is_better=False, n_resamples=3000)
    for name in ("d", "g", "dz"):
        assert fast[name] == pytest.approx(boot[name])
        assert fast[f"{name}_ci"][0] < fast[name] < fast[f"{name}_ci"][1]
        for ours, theirs in zip(fast[f"{name}_ci"], boot[f"{name}_ci"], strict=True):
            assert ours == pytest.approx(theirs, abs=0.004), name
