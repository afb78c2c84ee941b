"""Charts of the published tables — one definition, used by the dashboard and the HTML report alike.

Every function takes a polars frame shaped like a published table (or a query over one) and returns an Altair
chart; none computes an indicator. Suppressed cells arrive as NULL and are left out of the marks — the caller
says so beside the chart (`suppressed_note`). `to_svg` renders a chart offline (vl-convert), for the report.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import polars as pl

#: Change categories in reading order, with colours that read as better → worse.
CATEGORY_COLOURS = {
    "recovered": "#1a9850",
    "improved": "#91cf60",
    "unchanged": "#bdbdbd",
    "deteriorated": "#fc8d59",
    "harmed": "#d73027",
}
ACCENT = "#3b6ea5"
WIDTH = 560
HEIGHT = 260

#: What every chart function returns.
AnyChart = alt.Chart | alt.LayerChart | alt.FacetChart

alt.data_transformers.disable_max_rows()


def _frame(frame: pl.DataFrame, required: Sequence[str]) -> pl.DataFrame:
    """Rows whose required values are published (not suppressed, not missing)."""
    return frame.drop_nulls(list(required)) if frame.height else frame


def _empty(message: str) -> AnyChart:
    return (
        alt.Chart(pl.DataFrame({"text": [message]}))
        .mark_text(size=13, color="#666")
        .encode(text="text:N")
        .properties(width=WIDTH, height=60)
    )


def suppressed_note(frame: pl.DataFrame, columns: Sequence[str], k: int) -> str | None:
    """One sentence naming what a chart leaves out because disclosure control hid it."""
    parts = []
    for column in columns:
        flag = f"{column}_suppressed"
        if flag in frame.columns and frame.height:
            hidden = int(frame[flag].fill_null(False).sum())
            if hidden:
                parts.append(f"{column.replace('_', ' ')} in {hidden} of {frame.height} rows")
    if not parts:
        return None
    return (
        f"Not drawn, hidden by disclosure control (fewer than {k}, or would reveal a hidden cell): "
        f"{'; '.join(parts)}. Tables mark them <{k}, n<{k} or ‡."
    )


def category_bars(outcomes: pl.DataFrame, by: str = "level", title: str = "Change categories") -> AnyChart:
    """Stacked shares of paired episodes in each change category, one bar per `by` value."""
    cats = [c for c in CATEGORY_COLOURS if c in outcomes.columns]
    # A stack with a hidden part would draw the rest as if it were the whole: show only complete rows.
    # The categories add up to the paired episodes whose scale has a rule (`categorised`).
    total = "categorised" if "categorised" in outcomes.columns else "paired"
    complete = outcomes.filter(pl.all_horizontal([pl.col(c).is_not_null() for c in cats]))
    data = complete.select(by, total, *cats).unpivot(index=[by, total], on=cats, variable_name="category")
    data = data.drop_nulls(["value", total]).filter(pl.col(total) > 0)
    if not data.height:
        return _empty("No group has all five categories published (a small one is hidden): see the table")
    data = data.with_columns((pl.col("value") / pl.col(total)).alias("share"))
    levels = outcomes[by].unique(maintain_order=True).to_list()
    order = {c: i for i, c in enumerate(CATEGORY_COLOURS)}
    data = data.with_columns(pl.col("category").replace_strict(order, return_dtype=pl.Int64).alias("order"))
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            y=alt.Y(f"{by}:N", title=None, sort=levels),
            x=alt.X("sum(share):Q", title="share of paired episodes with a rule", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("category:N", scale=alt.Scale(domain=list(CATEGORY_COLOURS),
                                                          range=list(CATEGORY_COLOURS.values())),
                            legend=alt.Legend(orient="bottom", title=None)),
            order=alt.Order("order:Q"),
            tooltip=[f"{by}:N", "category:N", alt.Tooltip("value:Q", title="episodes"),
                     alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(width=WIDTH, height=max(60, 26 * data[by].n_unique()))
    )  # fmt: skip


def _rate_colour(label: str) -> str:
    if "deteriorat" in label:
        return "#d73027"
    if "reliable recover" in label:
        return "#1a9850"
    return "#91cf60" if "recover" in label else ACCENT


def rate_bars(frame: pl.DataFrame, rates: dict[str, str], by: str = "level", title: str = "") -> AnyChart:
    """Grouped bars of rates (0..1) per `by` value; `rates` maps column → label."""
    present = [r for r in rates if r in frame.columns]
    data = frame.select(by, *present).unpivot(index=by, on=present, variable_name="rate", value_name="value")
    data = data.drop_nulls("value").with_columns(pl.col("rate").replace_strict(rates, return_dtype=pl.String))
    if not data.height:
        return _empty("No published rates for this selection")
    levels = frame[by].unique(maintain_order=True).to_list()
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            y=alt.Y(f"{by}:N", title=None, sort=levels),
            yOffset=alt.YOffset("rate:N"),
            x=alt.X("value:Q", title=None, axis=alt.Axis(format="%")),
            color=alt.Color(
                "rate:N",
                title=None,
                legend=alt.Legend(orient="bottom"),
                scale=alt.Scale(domain=list(rates.values()), range=[_rate_colour(v) for v in rates.values()]),
            ),
            tooltip=[f"{by}:N", "rate:N", alt.Tooltip("value:Q", format=".1%")],
        )
        .properties(width=WIDTH, height=max(60, 18 * data.height))
    )


def _period_index(period: pl.Expr) -> pl.Expr:
    """A running number for months (2026-09) and quarters (2026-Q3), so that adjacent periods differ by one."""
    year = period.str.slice(0, 4).cast(pl.Int64, strict=False)
    quarter = period.str.extract(r"Q(\d)$").cast(pl.Int64, strict=False)
    month = period.str.extract(r"-(\d\d)$").cast(pl.Int64, strict=False)
    return pl.when(quarter.is_not_null()).then(year * 4 + quarter).otherwise(year * 12 + month)


def trend(
    frame: pl.DataFrame,
    value: str,
    title: str,
    x: str = "period",
    percent: bool = False,
    n: str | None = None,
    interval: tuple[str, str] | None = None,
) -> AnyChart:
    """A line over published periods (months or quarters) with its 95% interval as a bar at each point and the
    ``n`` behind it in the tooltip. The line breaks where a value is hidden or a period has no row — joining the
    neighbours would draw a value nobody published."""
    wanted = [c for c in (x, value, n, *(interval or ())) if c and c in frame.columns]
    data = frame.select(wanted).sort(x).with_columns(_period_index(pl.col(x)).alias("_index"))
    broken = pl.col(value).is_null() | (pl.col("_index") - pl.col("_index").shift(1) != 1).fill_null(True)
    data = data.with_columns(broken.cum_sum().alias("segment")).drop_nulls(value).drop("_index")
    if not data.height:
        return _empty("No published values for this selection")
    fmt = ".1%" if percent else ".2f"
    axis = alt.Axis(format="%") if percent else alt.Axis()
    order = frame.sort(x)[x].to_list()
    tooltip = [alt.Tooltip(f"{x}:O", title="period"), alt.Tooltip(f"{value}:Q", format=fmt, title="value")]
    if n and n in data.columns:
        tooltip.append(alt.Tooltip(f"{n}:Q", title="n"))
    if interval and all(c in data.columns for c in interval):
        labels = ("95% CI low", "95% CI high")
        tooltip += [alt.Tooltip(f"{c}:Q", format=fmt, title=t) for c, t in zip(interval, labels, strict=True)]
    base = alt.Chart(data, title=title).encode(x=alt.X(f"{x}:O", title=None, sort=order, scale=alt.Scale(domain=order)))
    line = base.mark_line(point=True, color=ACCENT).encode(
        y=alt.Y(f"{value}:Q", title=None, axis=axis), detail="segment:N", tooltip=tooltip
    )
    layers: list[alt.Chart] = [line]
    if interval and all(c in data.columns for c in interval):
        layers.insert(0, base.mark_rule(color=ACCENT, opacity=0.35, strokeWidth=2).encode(
            y=f"{interval[0]}:Q", y2=f"{interval[1]}:Q", tooltip=tooltip))  # fmt: skip
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT - 60)


def counts_trend(frame: pl.DataFrame, columns: dict[str, str], title: str, x: str = "period") -> AnyChart:
    """Several counts by period as lines (e.g. attended, cancelled, no-show)."""
    present = [c for c in columns if c in frame.columns]
    data = frame.select(x, *present).unpivot(index=x, on=present, variable_name="series", value_name="value")
    data = data.drop_nulls("value").with_columns(pl.col("series").replace_strict(columns, return_dtype=pl.String))
    if not data.height:
        return _empty("No published counts for this selection")
    return (
        alt.Chart(data, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{x}:O", title=None),
            y=alt.Y("value:Q", title=None),
            color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[f"{x}:O", "series:N", "value:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT - 40)
    )


def _jacobson_guides(lo: float, hi: float, threshold: float | None, cutoff: float | None) -> list[alt.Chart]:
    """No-change diagonal, the reliable-change band around it, and the clinical cutoff on both axes."""
    diagonal = pl.DataFrame({"x": [lo, hi], "y": [lo, hi]})
    layers: list[alt.Chart] = []
    if threshold is not None:
        band = pl.DataFrame({"x": [lo, hi], "low": [lo - threshold, hi - threshold],
                             "high": [lo + threshold, hi + threshold]})  # fmt: skip
        layers.append(
            alt.Chart(band)
            .mark_area(opacity=0.18, color="#888")
            .encode(
                x=alt.X("x:Q", scale=alt.Scale(domain=[lo, hi], clamp=True)),
                y=alt.Y("low:Q", scale=alt.Scale(domain=[lo, hi], clamp=True)),
                y2="high:Q",
            )
        )
    layers.append(alt.Chart(diagonal).mark_line(color="#444", strokeDash=[4, 3]).encode(x="x:Q", y="y:Q"))
    if cutoff is not None:
        rule = pl.DataFrame({"c": [cutoff]})
        layers.append(alt.Chart(rule).mark_rule(color="#b2182b", strokeDash=[6, 3]).encode(x="c:Q"))
        layers.append(alt.Chart(rule).mark_rule(color="#b2182b", strokeDash=[6, 3]).encode(y="c:Q"))
    return layers


def jacobson_density(grid: pl.DataFrame, title: str = "Baseline vs latest (paired episodes)") -> AnyChart:
    """The Jacobson plot for aggregate readers: counts of paired episodes on a baseline × latest grid (cells of
    fewer than k are not drawn), with the no-change line, the reliable-change band and the cutoff lines."""
    if not grid.height:
        return _empty("No paired episodes for this selection")
    facts = grid.row(0, named=True)
    lo, hi = float(facts["scale_min"]), float(facts["scale_max"])
    shown = _frame(grid, ["episodes"])
    scale = alt.Scale(domain=[lo, hi])
    cells = (
        alt.Chart(shown)
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("baseline_low:Q", title="baseline score", scale=scale),
            x2="baseline_high:Q",
            y=alt.Y("latest_low:Q", title="latest score", scale=scale),
            y2="latest_high:Q",
            color=alt.Color("episodes:Q", scale=alt.Scale(scheme="blues"), title="episodes"),
            tooltip=["baseline_low:Q", "baseline_high:Q", "latest_low:Q", "latest_high:Q", "episodes:Q"],
        )
    )
    threshold = facts.get("rc_threshold")
    guides = _jacobson_guides(lo, hi, threshold, facts.get("cutoff"))
    return alt.layer(cells, *guides, title=title).properties(width=WIDTH - 160, height=WIDTH - 160)


def jacobson_scatter(points: pl.DataFrame, title: str = "Baseline vs latest per episode") -> AnyChart:
    """The Jacobson plot with one point per paired episode (clinical mode only), coloured by category."""
    if not points.height:
        return _empty("No paired episodes for this selection")
    facts = points.row(0, named=True)
    values = pl.concat([points["baseline_score"], points["latest_score"]])
    lo, hi = float(values.min()), float(values.max())  # type: ignore[arg-type]
    pad = (hi - lo) * 0.03 or 1.0
    lo, hi = lo - pad, hi + pad
    scale = alt.Scale(domain=[lo, hi])
    dots = (
        alt.Chart(points)
        .mark_circle(size=28, opacity=0.6)
        .encode(
            x=alt.X("baseline_score:Q", title="baseline score", scale=scale),
            y=alt.Y("latest_score:Q", title="latest score", scale=scale),
            color=alt.Color("category:N", scale=alt.Scale(domain=list(CATEGORY_COLOURS),
                                                          range=list(CATEGORY_COLOURS.values())),
                            legend=alt.Legend(orient="bottom", title=None)),
            tooltip=["client_id:N", "baseline_score:Q", "latest_score:Q", "change:Q", "category:N"],
        )
    )  # fmt: skip
    guides = _jacobson_guides(lo, hi, facts.get("rc_threshold"), facts.get("cutoff"))
    return alt.layer(*guides, dots, title=title).properties(width=WIDTH - 120, height=WIDTH - 120)


def trajectory(points: pl.DataFrame, title: str, y_title: str = "mean") -> AnyChart:
    """Mean by attended session number with its 95% CI band (published points only)."""
    data = _frame(points, ["mean"])
    if not data.height:
        return _empty("No published trajectory points for this selection")
    base = alt.Chart(data, title=title).encode(x=alt.X("session_number:Q", title="attended session"))
    band = base.mark_area(opacity=0.2, color=ACCENT).encode(y=alt.Y("ci_low:Q", title=y_title), y2="ci_high:Q")
    line = base.mark_line(point=True, color=ACCENT).encode(
        y="mean:Q", tooltip=["session_number:Q", alt.Tooltip("mean:Q", format=".2f"), "n:Q",
                             alt.Tooltip("ci_low:Q", format=".2f"), alt.Tooltip("ci_high:Q", format=".2f")]
    )  # fmt: skip
    return alt.layer(band, line).properties(width=WIDTH, height=HEIGHT)


def funnel(row: pl.DataFrame, title: str = "IFS milestones reached in order") -> AnyChart:
    """Episodes reaching M1..M5 in order (one breakdown row of milestone_funnel)."""
    labels = {f"reached_m{k}": f"M{k}" for k in range(1, 6)}
    data = row.select(*labels).unpivot(variable_name="milestone", value_name="episodes").drop_nulls("episodes")
    rates = row.select(*(f"reach_rate_m{k}" for k in range(1, 6))).unpivot(variable_name="m", value_name="rate")
    data = data.with_columns(pl.col("milestone").replace_strict(labels, return_dtype=pl.String))
    if not data.height:
        return _empty("No published milestone counts for this selection")
    data = data.join(
        rates.with_columns(pl.col("m").str.replace("reach_rate_m", "M").alias("milestone")).drop("m"),
        on="milestone",
        how="left",
    )
    return (
        alt.Chart(data, title=title)
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("milestone:N", title=None, sort=list(labels.values())),
            y=alt.Y("episodes:Q", title="episodes"),
            tooltip=["milestone:N", "episodes:Q", alt.Tooltip("rate:Q", format=".1%", title="of episodes")],
        )
        .properties(width=WIDTH - 160, height=HEIGHT)
    )


#: How each published milestone-curve method is named on a chart.
CURVE_METHODS = {
    "cumulative_incidence": "cumulative incidence (ending treatment competes)",
    "kaplan_meier": "Kaplan-Meier (sensitivity: ending censored, overstates reach)",
}


def km_curves(curves: pl.DataFrame, unit: str = "session", method: str = "cumulative_incidence") -> AnyChart:
    """Cumulative proportion reaching each milestone by ``method`` (the published default: cumulative incidence
    with ending treatment as a competing event; `kaplan_meier` the labelled sensitivity analysis), as steps with
    95% CI bands."""
    data = curves.filter(pl.col("unit") == unit)
    if "method" in data.columns:
        data = data.filter(pl.col("method") == method)
    data = data.with_columns(pl.format("M{}", "milestone").alias("milestone"))
    if not data.height:
        return _empty("No published curve points")
    x_title = "attended sessions" if unit == "session" else "days since the first session"
    title = f"Time to milestone: {CURVE_METHODS.get(method, method)}"
    base = alt.Chart(data, title=title).encode(
        x=alt.X("time:Q", title=x_title), color=alt.Color("milestone:N", title=None, legend=alt.Legend(orient="bottom"))
    )
    band = base.mark_area(opacity=0.12, interpolate="step-after").encode(y="ci_low:Q", y2="ci_high:Q")
    line = base.mark_line(interpolate="step-after").encode(
        y=alt.Y("cumulative_reached:Q", title="cumulative proportion reached", axis=alt.Axis(format="%")),
        tooltip=["milestone:N", "time:Q", alt.Tooltip("cumulative_reached:Q", format=".1%"), "at_risk:Q"],
    )
    return alt.layer(band, line).properties(width=WIDTH, height=HEIGHT)


def count_bars(frame: pl.DataFrame, columns: dict[str, str], title: str, by: str | None = None) -> AnyChart:
    """Bars of published counts (e.g. sequence deviations, what followed a choice point)."""
    index = [by] if by else []
    present = [c for c in columns if c in frame.columns]
    data = frame.select(*index, *present).unpivot(index=index or None, on=present, variable_name="what",
                                                   value_name="episodes")  # fmt: skip
    data = data.drop_nulls("episodes").with_columns(pl.col("what").replace_strict(columns, return_dtype=pl.String))
    if not data.height:
        return _empty("No published counts for this selection")
    encoding = {
        "y": alt.Y("what:N", title=None, sort=list(columns.values()), axis=alt.Axis(labelLimit=320)),
        "x": alt.X("episodes:Q", title="episodes"),
        "tooltip": [*index, "what:N", "episodes:Q"],
    }
    if by:
        encoding["yOffset"] = alt.YOffset(f"{by}:N")
        encoding["color"] = alt.Color(f"{by}:N", title=None, legend=alt.Legend(orient="bottom"))
    chart = alt.Chart(data, title=title).mark_bar(color=ACCENT).encode(**encoding)
    return chart.properties(width=WIDTH, height=max(60, (16 if by else 26) * data.height))


def means_bars(frame: pl.DataFrame, columns: dict[str, str], title: str, by: str = "level") -> AnyChart:
    """Grouped bars of published means (e.g. GAS T-scores at baseline and latest) per `by` value."""
    present = [c for c in columns if c in frame.columns]
    data = frame.select(by, *present).unpivot(index=by, on=present, variable_name="what", value_name="mean")
    data = data.drop_nulls("mean").with_columns(pl.col("what").replace_strict(columns, return_dtype=pl.String))
    if not data.height:
        return _empty("No published means for this selection")
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            y=alt.Y(f"{by}:N", title=None, sort=None),
            yOffset=alt.YOffset("what:N"),
            x=alt.X("mean:Q", title=None),
            color=alt.Color("what:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[f"{by}:N", "what:N", alt.Tooltip("mean:Q", format=".2f")],
        )
        .properties(width=WIDTH, height=max(60, 18 * data.height))
    )


def client_trajectory(scores: pl.DataFrame, title: str = "Scores over the episode") -> AnyChart:
    """One episode's scores by date, one panel per scale (clinical mode only)."""
    if not scores.height:
        return _empty("No scored administrations")
    data = scores.with_columns(pl.format("{} {}", "instrument", "scale").alias("scale_label"))
    return (
        alt.Chart(data)
        .mark_line(point=True, color=ACCENT)
        .encode(
            x=alt.X("administered_on:T", title=None),
            y=alt.Y("score:Q", title=None, scale=alt.Scale(zero=False)),
            tooltip=["administered_on:T", "session_number:Q", "score:Q", "band:N"],
        )
        .properties(width=WIDTH - 200, height=110)
        .facet(
            row=alt.Row("scale_label:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")), title=title
        )
        .resolve_scale(y="independent")
    )


def to_svg(chart: AnyChart) -> str:
    """Render offline to an SVG string (no network: vl-convert bundles Vega)."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(chart.to_json()))
