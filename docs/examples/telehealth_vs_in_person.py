"""Telehealth vs in person: PHQ-9 effect sizes with bootstrap CIs, from a research package.

Run it on any export:  python docs/examples/telehealth_vs_in_person.py path/to/export
(`ifs-outcomes export --out path/to/export` makes one). The tests run it on an export of data/sample.
"""

from __future__ import annotations

import sys

import polars as pl

from pipeline import effect_sizes, load_export


def main(folder: str) -> pl.DataFrame:
    tables = load_export(folder)
    paired = (
        tables["client_change"]
        .filter(pl.col("paired") & (pl.col("instrument") == "phq9"))
        .join(tables["episodes"].select("research_id", "modality"), on="research_id")
        .filter(pl.col("modality").is_in(["in_person", "telehealth"]))
    )
    rows = []
    for (modality,), group in paired.group_by("modality", maintain_order=True):
        es = effect_sizes(group["baseline_score"].to_numpy(), group["latest_score"].to_numpy(),
                          higher_is_better=False, n_resamples=1000)  # fmt: skip
        rows.append({"modality": modality, "n": group.height, "d": es["d"], "d_ci_low": es["d_ci"][0],
                     "d_ci_high": es["d_ci"][1], "mean_change": group["change"].mean()})  # fmt: skip
    result = pl.DataFrame(rows).sort("modality")
    print(result)
    return result


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/exports/research")
