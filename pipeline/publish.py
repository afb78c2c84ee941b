"""Publish: disclose, validate against the published-table models, and write atomically (DESIGN 6, 7).

- ``<home>/published/clinical.duckdb`` — client-level indicators (pseudonymous) for clinicians' own caseloads;
- ``<home>/published/aggregate.duckdb`` — aggregates only, every table through `apply_disclosure_control` with the
  layout its mart declares (`pipeline/marts/`).

The numbers themselves are computed by the marts (`pipeline.marts.build_all`); this module decides nothing about
them. Both files are built under a temporary name and renamed into place, each with a `publication` row saying
what it reflects (`stages.bring_up_to_date` compares it with the warehouse).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from pipeline import io
from pipeline.config import PUBLISHED_FILES, Paths
from pipeline.disclosure import DisclosurePolicy, apply_disclosure_control
from pipeline.marts import MARTS, DerivedMart
from pipeline.settings import Settings
from schemas.published import validate


@dataclass(frozen=True)
class Publication:
    clinical: dict[str, pl.DataFrame]
    aggregate: dict[str, pl.DataFrame]


def publication_meta(
    as_of: dt.date, warehouse_run_id: str, registry_version: str, code_version: str, settings: Settings
) -> pl.DataFrame:
    """The `publication` row of both files: what the numbers were computed from and with."""
    policy = DisclosurePolicy(k=settings.disclosure.k)
    return pl.DataFrame(
        {"as_of": [as_of], "warehouse_run_id": [warehouse_run_id], "registry_version": [registry_version],
         "code_version": [code_version], "settings_fingerprint": [settings.fingerprint()],
         "settings": [settings.to_json()], "disclosure_k": [policy.k], "disclosure_rule": [policy.describe()]}
    )  # fmt: skip


def disclose(tables: dict[str, pl.DataFrame], meta: pl.DataFrame, settings: Settings) -> Publication:
    """Both files' tables: aggregate ones through disclosure control, every one validated against its model."""
    policy = DisclosurePolicy(k=settings.disclosure.k)
    files: dict[str, dict[str, pl.DataFrame]] = {"clinical": {}, "aggregate": {}}
    for mart in MARTS:
        if isinstance(mart, DerivedMart):  # from what its sources publish, so after them
            files[mart.file][mart.name] = mart.derive(files[mart.file])
            continue
        table = tables[mart.name]
        if mart.file == "aggregate" and mart.layout is not None:
            table = apply_disclosure_control(table, mart.layout, policy)
        files[mart.file][mart.name] = table
    for file in files.values():
        file["publication"] = meta
    return Publication(
        clinical={name: validate("clinical", name, frame) for name, frame in files["clinical"].items()},
        aggregate={name: validate("aggregate", name, frame) for name, frame in files["aggregate"].items()},
    )


def publish(paths: Paths, publication: Publication) -> list[str]:
    """Write both files atomically; returns their paths. Each records the warehouse state it reflects, so a run
    interrupted between the two republishes both (`stages.bring_up_to_date`)."""
    from pipeline.faults import fault_point

    tables = {"clinical": publication.clinical, "aggregate": publication.aggregate}
    written = []
    for name in PUBLISHED_FILES:
        io.write_duckdb_atomic(paths.published_file(name), tables[name])
        written.append(str(paths.published_file(name)))
        if name == "clinical":
            fault_point("publish:clinical_written")
    return written
