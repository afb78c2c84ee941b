"""The approaches beyond the RCI (pipeline.change_approaches): hand-computed tiny cases at every boundary, both
directions, and each deliberate difference from the R package `clinicalsignificance` shown to be the documented
one."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from pipeline import change as cs
from pipeline import change_approaches as ca


def long(pre: list[float], post: list[float], **extra: list[object]) -> pl.DataFrame:
    """Long data with time 1 (pre) and 2 (post) for subjects 1..n."""
    n = len(pre)
    rows = {"id": [*range(1, n + 1), *range(1, n + 1)], "t": [1] * n + [2] * n, "y": [*pre, *post]}
    rows.update({k: [*v, *v] for k, v in extra.items()})
    return pl.DataFrame(rows)


# --- anchor, individual ----------------------------------------------------------------------------------


@pytest.mark.parametrize("higher", [False, True])
def test_anchor_mid_exactly_met_counts_and_separate_mids(higher: bool) -> None:
    s = 1 if higher else -1
    change = s * np.array([7.0, np.nextafter(7.0, 0), -5.0, -np.nextafter(5.0, 0), 0.0])
    improved, deteriorated = cs.anchor_flags(change, higher, 7, 5)
    assert improved.tolist() == [True, False, False, False, False]
    assert deteriorated.tolist() == [False, False, True, False, False]
    # one MID for both directions by default, and the pipeline's point threshold is the same rule
    assert cs.anchor_flags(change, higher, 5)[0].tolist() == [True, True, False, False, False]
    assert [a.tolist() for a in cs.point_change_flags(change, higher, 5)] == [
        a.tolist() for a in cs.anchor_flags(change, higher, 5)
    ]


def test_cs_anchor_individual_and_the_mid_must_be_positive() -> None:
    data = long([20, 20, 20, 20], [13, 14, 25, 26])  # changes -7, -6, +5, +6
    result = ca.cs_anchor(data, "id", "t", "y", pre=1, post=2, mid_improvement=7, mid_deterioration=5)
    assert isinstance(result, cs.ChangeAnalysis)
    assert result.subjects["category"].to_list() == ["improved", "unchanged", "deteriorated", "deteriorated"]
    assert result.subjects.columns == ["id", "pre", "post", "change", "improved", "deteriorated", "category"]
    assert list(result.summary()["categories"]) == ["improved", "unchanged", "deteriorated"]
    for bad in (0, -1):
        with pytest.raises(cs.ChangeError, match="positive"):
            ca.cs_anchor(data, "id", "t", "y", pre=1, post=2, mid_improvement=bad)


# --- anchor, group level ---------------------------------------------------------------------------------

GROUP_CASES = [
    # difference, lower, upper (in "higher is better" orientation), MID 7 -> category
    (5.0, -1.0, 11.0, "Statistically not significant"),
    (5.0, 0.0, 10.0, "Statistically not significant"),  # a CI touching 0 contains it
    (3.0, 1.0, 5.0, "Statistically significant but not clinically relevant"),
    (-3.0, -5.0, -1.0, "Statistically significant but not clinically relevant"),  # significant harm
    (6.0, 2.0, 10.0, "Not significantly greater than the threshold"),
    (7.0, 2.0, 12.0, "Probably clinically significant effect"),  # the MID exactly met
    (9.0, 7.0, 11.0, "Probably clinically significant effect"),  # the CI's limit on the MID still contains it
    (9.0, 7.5, 11.0, "Large clinically significant effect"),
]


@pytest.mark.parametrize(("difference", "lower", "upper", "expected"), GROUP_CASES)
@pytest.mark.parametrize("higher", [True, False])
def test_anchor_group_category_boundaries(
    difference: float, lower: float, upper: float, expected: str, higher: bool
) -> None:
    s = 1 if higher else -1
    lo, hi = sorted((s * lower, s * upper))
    got = ca.anchor_group_category(s * difference, lo, hi, higher_is_better=higher, mid_improvement=7)
    assert got == (expected if higher else expected.replace("greater", "less"))


def test_paired_and_welch_intervals_by_hand() -> None:
    pre, post = np.array([10.0, 12, 9, 15, 11]), np.array([6.0, 7, 8, 9, 4])
    diff = post - pre
    half = stats.t.ppf(0.975, 4) * diff.std(ddof=1) / math.sqrt(5)
    assert ca.paired_mean_change_ci(pre, post) == pytest.approx((diff.mean(), diff.mean() - half, diff.mean() + half))
    a, b = np.array([3.0, 5, 4, 8]), np.array([10.0, 12, 9, 15, 11, 14])
    va, vb = a.var(ddof=1) / 4, b.var(ddof=1) / 6
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 5)
    half = stats.t.ppf(0.95, df) * math.sqrt(va + vb)
    d = a.mean() - b.mean()
    assert ca.welch_difference_ci(a, b, 0.9) == pytest.approx((d, d - half, d + half))


def test_cs_anchor_group_within_and_between() -> None:
    pre = [20.0, 22, 24, 26, 21, 23, 25, 27]
    post = [10.0, 11, 13, 12, 20, 23, 22, 26]
    data = long(pre, post, arm=["a"] * 4 + ["b"] * 4)
    within = ca.cs_anchor(data, "id", "t", "y", group="arm", pre=1, post=2, mid_improvement=7, target="group")
    assert isinstance(within, ca.AnchorGroupResult)
    rows = {r["group"]: r for r in within.table.to_dicts()}
    d, lo, hi = ca.paired_mean_change_ci(np.array(pre[:4]), np.array(post[:4]))
    assert (rows["a"]["difference"], rows["a"]["lower"], rows["a"]["upper"]) == pytest.approx((d, lo, hi))
    assert rows["a"]["n"] == 4 and rows["a"]["category"] == ca.anchor_group_category(
        d, lo, hi, higher_is_better=False, mid_improvement=7
    )
    between = ca.cs_anchor(
        data, "id", "t", "y", group="arm", post=2, mid_improvement=7, target="group", effect="between"
    )
    [row] = between.table.to_dicts()
    assert (row["reference"], row["comparison"], row["n_reference"], row["n_comparison"]) == ("a", "b", 4, 4)
    assert row["difference"] == pytest.approx(np.mean(post[4:]) - np.mean(post[:4]))
    other = ca.cs_anchor(
        data, "id", "t", "y", group="arm", post=2, mid_improvement=7, target="group", effect="between",
        reference_group="b",
    )  # fmt: skip
    assert other.table["difference"][0] == pytest.approx(-row["difference"])
    with pytest.raises(cs.ChangeError, match="target='group'"):
        ca.cs_anchor(data, "id", "t", "y", group="arm", post=2, mid_improvement=7, effect="between")


# --- percentage change -----------------------------------------------------------------------------------


def test_percentage_exactly_at_the_threshold_and_separate_thresholds() -> None:
    pre = np.array([10.0, 10, 10, 10, 10, 10])
    post = np.array([5.0, 5.01, 13, 12.9, 10, 2])
    improved, deteriorated = ca.percentage_change_flags(pre, post, False, 0.5, 0.3)
    assert improved.tolist() == [True, False, False, False, False, True]
    assert deteriorated.tolist() == [False, False, True, False, False, False]
    improved, deteriorated = ca.percentage_change_flags(pre, post, True, 0.3)  # higher is better: mirror
    assert improved.tolist() == [False, False, True, False, False, False]
    assert deteriorated.tolist() == [True, True, False, False, False, True]


@pytest.mark.parametrize("higher", [False, True])
def test_percentage_zero_baseline_is_judged_by_direction(higher: bool) -> None:
    pre, post = np.array([0.0, 0.0, 0.0]), np.array([3.0, 0.0, -3.0])
    improved, deteriorated = ca.percentage_change_flags(pre, post, higher, 0.5)
    up_is_better = [True, False, False]
    assert improved.tolist() == (up_is_better if higher else up_is_better[::-1])
    assert deteriorated.tolist() == (up_is_better[::-1] if higher else up_is_better)
    assert np.isnan(ca.percentage_change(pre, post)).all()


def r_percentage(pre: np.ndarray, post: np.ndarray, direction: int, imp: float, det: float) -> tuple[list, list]:
    """calc_percentage() of the R package, transcribed (change / pre, its zero-baseline rule, pre == post)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = (post - pre) / pre
        improved = (direction * pct >= imp) | ((pre == 0) & (post > 0))
        deteriorated = (direction * pct <= -det) | ((pre == 0) & (post < 0))
    same = pre == post
    return (improved & ~same).tolist(), (deteriorated & ~same).tolist()


def test_percentage_documented_differences_from_the_package() -> None:
    # lower is better, zero baseline: the package marks 0 -> 3 both improved and deteriorated; we: deteriorated
    pre, post = np.array([0.0]), np.array([3.0])
    assert r_percentage(pre, post, -1, 0.5, 0.5) == ([True], [True])
    assert [a.tolist() for a in ca.percentage_change_flags(pre, post, False, 0.5)] == [[False], [True]]
    # higher is better, negative baseline -10 -> -5 (better): the package's change / pre says -50%, we say +50%
    pre, post = np.array([-10.0]), np.array([-5.0])
    assert r_percentage(pre, post, 1, 0.5, 0.5) == ([False], [True])
    assert [a.tolist() for a in ca.percentage_change_flags(pre, post, True, 0.5)] == [[True], [False]]


@given(
    st.lists(st.tuples(st.integers(1, 60), st.integers(0, 60)), min_size=1, max_size=30),
    st.sampled_from([-1, 1]),
    st.sampled_from([0.2, 0.25, 0.3, 0.5, 0.75, 1.0]),
    st.sampled_from([0.1, 0.3, 0.5]),
)
def test_percentage_equals_the_package_for_positive_baselines(
    pairs: list[tuple[int, int]], direction: int, imp: float, det: float
) -> None:
    pre = np.array([p for p, _ in pairs], dtype=float)
    post = np.array([q for _, q in pairs], dtype=float)
    ours = ca.percentage_change_flags(pre, post, direction == 1, imp, det)
    assert [a.tolist() for a in ours] == list(r_percentage(pre, post, direction, imp, det))
    assert not (ours[0] & ours[1]).any()


def test_cs_percentage_columns_and_argument_checks() -> None:
    data = long([10, 0, 8], [5, 0, 8])
    result = ca.cs_percentage(data, "id", "t", "y", pre=1, post=2, pct_improvement=0.5)
    assert result.subjects.columns == [
        "id", "pre", "post", "change", "pct_change", "improved", "deteriorated", "category",
    ]  # fmt: skip
    assert result.subjects["pct_change"].to_list() == [-0.5, None, 0.0]
    assert result.subjects["category"].to_list() == ["improved", "unchanged", "unchanged"]
    for bad in (0, 1.5, -0.2):
        with pytest.raises(cs.ChangeError, match="fraction"):
            ca.cs_percentage(data, "id", "t", "y", pre=1, post=2, pct_improvement=bad)


# --- statistical approach and cutoffs ----------------------------------------------------------------------


def test_statistical_categories_with_a_score_on_the_cutoff() -> None:
    # lower is better, cutoff 10 (a score of 10 is clinical, our rule)
    data = long([15, 10, 15, 5, 10, 15], [5, 5, 10, 12, 10, 12])
    result = ca.cs_statistical(data, "id", "t", "y", pre=1, post=2, cutoff_type=10.0)
    assert result.subjects["clinical_pre"].to_list() == [True, True, True, False, True, True]
    assert result.subjects["clinical_post"].to_list() == [False, False, True, True, True, True]
    assert result.subjects["category"].to_list() == [
        "improved", "improved", "unchanged", "deteriorated", "unchanged", "unchanged",
    ]  # fmt: skip
    # The package counts a score on the cutoff as neither clinical nor functional, so subject 2 (pre 10 -> 5)
    # is "unchanged" there and subject 3 (15 -> 10) is "unchanged" too; only subject 2 differs in category.
    pre, post, cut = np.array([15, 10, 15, 5, 10, 15]), np.array([5, 5, 10, 12, 10, 12]), 10
    r_clinical_pre, r_functional_post = pre > cut, post < cut
    r_cat = np.where(
        r_clinical_pre & r_functional_post, "improved",
        np.where(~r_clinical_pre & ~r_functional_post, "deteriorated", "unchanged"),
    )  # fmt: skip
    differs = np.array(result.subjects["category"].to_list()) != r_cat
    assert np.flatnonzero(differs).tolist() == [1, 4]  # pre exactly on the cutoff: 10 -> 5, 10 -> 10
    assert r_cat[[1, 4]].tolist() == ["unchanged", "deteriorated"]


def test_statistical_needs_no_reliability_but_ha_does() -> None:
    data = long([15, 20, 25, 18], [5, 12, 24, 19])
    jt = ca.cs_statistical(data, "id", "t", "y", pre=1, post=2, cutoff_type="a")
    assert jt.parameters["cutoff"] == pytest.approx(np.mean([15, 20, 25, 18]) - 2 * np.std([15, 20, 25, 18], ddof=1))
    with pytest.raises(cs.ChangeError, match="reliability"):
        ca.cs_statistical(data, "id", "t", "y", pre=1, post=2, cutoff_method="ha")


def test_ha_reliability_and_true_cutoffs_by_hand() -> None:
    assert ca.ha_reliability(5, 5 * math.sqrt(0.2)) == pytest.approx(0.8)
    # Bauer et al. (2004), as in the package's tests: M_c 68.35, SD_c 22.33, M_f 50, SD_f 22, both r = .93
    kw = {"m_clinical": 68.35, "sd_clinical": 22.33, "reliability_clinical": 0.93, "m_functional": 50.0,
          "sd_functional": 22.0, "reliability_functional": 0.93}  # fmt: skip
    sc, sf = 22.33 * math.sqrt(0.93), 22 * math.sqrt(0.93)
    for higher, s in ((True, 1), (False, -1)):
        assert ca.ha_cutoff("a", higher_is_better=higher, **kw) == pytest.approx(68.35 + 2 * s * sc)
        assert ca.ha_cutoff("c", higher_is_better=higher, **kw) == pytest.approx((sc * 50 + sf * 68.35) / (sc + sf))
        b = ca.ha_cutoff("b", higher_is_better=higher, **kw)
        assert b == pytest.approx(50 - 2 * s * sf)  # the functional spread (as our Jacobson-Truax b)
        package_b = 50 - 2 * s * sc  # the package's b uses the clinical spread
        assert b - package_b == pytest.approx(2 * s * (sc - sf))


def test_ha_individual_test_by_hand_and_only_for_the_right_population() -> None:
    pre = np.array([30.0, 28, 26, 12, 31, 27, 10])
    post = np.array([8.0, 25, 14, 38, 29, 12, 11])
    status = ca.cutoff_status(pre, post, cutoff_type=20.0, higher_is_better=False, cutoff_method="ha", reliability=0.8)
    se = np.std(pre, ddof=1) * math.sqrt(0.2)
    r_post = (np.var(post, ddof=1) - se**2) / np.var(post, ddof=1)
    cs_indiv = (post.mean() + (post - post.mean()) * r_post - 20) / (math.sqrt(r_post) * se)
    assert status.columns["cs_indiv"] == pytest.approx(cs_indiv)
    clinical_pre = pre >= 20
    assert status.to_functional.tolist() == (clinical_pre & (-cs_indiv > cs.Z_ONE_SIDED)).tolist()
    assert status.to_clinical.tolist() == (~clinical_pre & (-cs_indiv < -cs.Z_ONE_SIDED)).tolist()
    assert status.to_functional.any() and status.to_clinical.any()
    # subject 4 (12 -> 38) is reliably clinical at post; subject 7 (10 -> 11) is not
    assert status.to_clinical.tolist() == [False, False, False, True, False, False, False]


def test_ha_group_level_by_hand() -> None:
    pre, post = np.array([30.0, 28, 26, 22, 31, 27]), np.array([18.0, 25, 14, 20, 29, 12])
    out = ca.ha_group_level(pre, post, higher_is_better=False, r_dd=0.6, cutoff=20.0, reliability_post=0.85)
    diff = post - pre

    def phi(z: float) -> float:
        return 0.5 * (1 + math.erf(z / math.sqrt(2)))

    assert out["changed"] == pytest.approx(phi(-diff.mean() / (diff.std(ddof=1) * math.sqrt(0.6))))
    assert out["functional"] == pytest.approx(phi((20 - post.mean()) / (post.std(ddof=1) * math.sqrt(0.85))))
    mirror = ca.ha_group_level(-pre, -post, higher_is_better=True, r_dd=0.6, cutoff=-20.0, reliability_post=0.85)
    assert (mirror["changed"], mirror["functional"]) == pytest.approx((out["changed"], out["functional"]))


def test_ha_combined_harm_needs_the_individual_test() -> None:
    """Harmed = reliably deteriorated and reliably clinical at post (the mirror of recovered). The package's
    summary counts every reliable deterioration that started outside the clinical range as harmed."""
    data = long([30, 28, 26, 12, 31, 27, 10, 24, 29], [8, 25, 14, 26, 29, 12, 17, 22, 27])
    result = ca.cs_combined(
        data, "id", "t", "y", pre=1, post=2, reliability=0.9, rci_method="ha", cutoff_type=20.0, cutoff_method="ha"
    )
    sub = result.subjects
    deteriorated_outside = sub.filter(pl.col("deteriorated") & ~pl.col("clinical_pre"))
    assert deteriorated_outside.height == 2  # 12 -> 26 and 10 -> 17
    assert deteriorated_outside["category"].to_list() == ["harmed", "deteriorated"]
    assert deteriorated_outside["reliably_clinical_post"].to_list() == [True, False]
    recovered = sub.filter(pl.col("category") == "recovered")
    assert recovered["improved"].all() and recovered["reliably_functional_post"].all()
    assert set(result.summary()) >= {"ha_group_level"}


# --- HLM ---------------------------------------------------------------------------------------------------


def simulated(n: int = 12, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        b0, b1 = rng.normal(20, 4), rng.normal(-2, 1)
        rows += [{"id": f"s{i:02d}", "t": t, "y": b0 + b1 * t + rng.normal(0, 1), "arm": i % 2} for t in range(4)]
    return pl.DataFrame(rows)


def test_hlm_drops_subjects_with_fewer_than_three_measurements() -> None:
    extra = pl.DataFrame(
        {"id": ["one", "two", "two", "gap", "gap", "gap"], "t": [0, 0, 1, 0, 1, 2], "y": [5.0, 5, 6, 7, None, 8],
         "arm": [0] * 6}
    )  # fmt: skip
    data = pl.concat([simulated(), extra])
    fit = ca.hlm_fit(data, id="id", time="t", outcome="y")
    assert (fit.n_in_data, fit.subjects.height, fit.n_dropped) == (15, 12, 3)
    assert fit.model["n_observations"] == 48 and fit.usable
    result = ca.cs_distribution(data, "id", "t", "y", rci_method="hlm")
    assert (result.n_in_data, result.n_used, result.n_dropped_missing) == (15, 12, 3)
    assert "one" not in result.subjects["id"].to_list()


def test_hlm_eb_slopes_equal_the_blup_by_hand() -> None:
    """b_i = D Z'V⁻¹(y − Xβ), Var(b_i | y) = D − D Z'V⁻¹Z D at the fitted D, σ², β (what lme4's ranef gives)."""
    data = simulated()
    fit = ca.hlm_fit(data, id="id", time="t", outcome="y")
    m = fit.model
    beta = np.array([m["fixed_intercept"], m["fixed_slope"]])
    d = np.array(m["cov_random"])
    for row in fit.subjects.iter_rows(named=True):
        part = data.filter(pl.col("id") == row["id"]).sort("t")
        z = np.column_stack([np.ones(part.height), part["t"].to_numpy().astype(float)])
        v = z @ d @ z.T + m["residual_variance"] * np.eye(part.height)
        vinv = np.linalg.inv(v)
        b = d @ z.T @ vinv @ (part["y"].to_numpy() - z @ beta)
        cond = d - d @ z.T @ vinv @ z @ d
        assert row["eb_slope"] == pytest.approx(b[1], rel=1e-6, abs=1e-9)
        assert row["eb_sd"] == pytest.approx(math.sqrt(cond[1, 1]), rel=1e-6)
        assert row["rci"] == pytest.approx(row["eb_slope"] / row["eb_sd"])
        assert (row["pre"], row["post"]) == (part["y"][0], part["y"][-1])


def test_hlm_first_and_last_are_by_time_not_file_order_and_time_must_be_numeric() -> None:
    data = simulated()
    shuffled = data.sample(fraction=1.0, shuffle=True, seed=1)
    a = ca.hlm_fit(data, id="id", time="t", outcome="y").subjects
    b = ca.hlm_fit(shuffled, id="id", time="t", outcome="y").subjects
    assert a.select("id", "pre", "post").equals(b.select("id", "pre", "post"))
    assert a["rci"].to_numpy() == pytest.approx(b["rci"].to_numpy(), rel=1e-5)
    with pytest.raises(cs.ChangeError, match="numeric time"):
        ca.hlm_fit(data.with_columns(pl.format("w{}", "t").alias("t")), id="id", time="t", outcome="y")


def test_hlm_that_does_not_converge_classifies_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    from statsmodels.regression.mixed_linear_model import MixedLM

    original = MixedLM.fit

    def not_converged(self: MixedLM, *args: object, **kwargs: object) -> object:
        result = original(self, *args, **kwargs)
        result.converged = False
        return result

    monkeypatch.setattr(MixedLM, "fit", not_converged)
    result = ca.cs_combined(simulated(), "id", "t", "y", rci_method="hlm", cutoff_type="a", group="arm")
    assert not result.classified
    assert result.subjects["category"].null_count() == result.subjects.height
    assert result.subjects["improved"].null_count() == result.subjects.height
    summary = result.summary("arm")
    assert summary["categories"] is None and summary["groups"]["0"]["categories"] is None
    assert summary["model"]["converged"] is False and "did not converge" in summary["model"]["message"]


def test_hlm_needs_three_subjects() -> None:
    with pytest.raises(cs.ChangeError, match="at least three subjects"):
        ca.hlm_fit(simulated().filter(pl.col("id") < "s02"), id="id", time="t", outcome="y")


# --- entry points ------------------------------------------------------------------------------------------


def test_cs_distribution_equals_analyze_change() -> None:
    data = long([10, 20, 30, 25, 18], [12, 11, 35, 14, 9], arm=["x", "x", "y", "y", "y"])
    for method in cs.METHODS:
        ours = ca.cs_distribution(data, "id", "t", "y", group="arm", pre=1, post=2, reliability=0.8, rci_method=method)
        wide, _, _ = cs.long_to_wide(data, id="id", time="t", outcome="y", pre="1", post="2", group="arm")
        direct = cs.analyze_change(wide, method=method, reliability=0.8, higher_is_better=False, group="arm")
        assert ours.subjects.equals(direct.subjects)


def test_two_numeric_time_values_infer_pre_and_text_needs_it() -> None:
    data = long([10, 20, 30], [5, 11, 35])
    inferred = ca.cs_percentage(data, "id", "t", "y", pct_improvement=0.5)
    assert inferred.subjects["pre"].to_list() == [10, 20, 30]
    with pytest.raises(cs.ChangeError, match="pre measurement"):
        ca.cs_percentage(data.with_columns(pl.format("w{}", "t").alias("t")), "id", "t", "y", pct_improvement=0.5)


def test_effect_sizes_by_group_equal_effect_sizes() -> None:
    data = long([10, 20, 30, 25, 18, 22], [12, 11, 35, 14, 9, 15], arm=["x"] * 3 + ["y"] * 3)
    result = ca.cs_anchor(data, "id", "t", "y", group="arm", pre=1, post=2, mid_improvement=5)
    sizes = ca.effect_sizes_by_group(result, "arm", higher_is_better=False)
    assert sizes["overall"] == cs.effect_sizes(
        [10, 20, 30, 25, 18, 22], [12, 11, 35, 14, 9, 15], higher_is_better=False
    )
    assert sizes["groups"]["y"]["d"] == pytest.approx(
        cs.effect_sizes([25, 18, 22], [14, 9, 15], higher_is_better=False)["d"]
    )
