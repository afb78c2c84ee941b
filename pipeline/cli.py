"""The `ifs-outcomes` command line: thin wrappers over ``pipeline.stages``.

Exit codes: 0 loaded (or already loaded), 1 loaded with quarantined rows, 2 batch rejected or usage error,
3 internal error (a bug: one sentence plus the path of a log with the details). Progress goes to stderr so
``--json`` output on stdout stays machine-readable. Heavy modules (Pandera pulls in pandas) are imported inside
the commands that need them, so `--help` and `change` start quickly.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from pipeline.config import Paths, resolve_home
from pipeline.io import WarehouseBusy, csv_separator
from pipeline.summary import EXIT_INTERNAL, EXIT_REJECTED, RunSummary

app = typer.Typer(
    name="ifs-outcomes",
    help="Outcome measurement for IFS therapy and coaching practices: validate, load and report export batches.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data home (default: $IFS_OUTCOMES_HOME, else ./data).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one machine-readable summary object on stdout.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="As-of date (YYYY-MM-DD) for batches whose batch.toml has no exported_at; default today.",
    ),
]


def _parse_date(value: str | None, option: str) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        err.print(f"[red]{option} must be a date such as 2026-10-31, not {value!r}.[/red]")
        raise typer.Exit(EXIT_REJECTED) from None


@contextmanager
def _guard(home: Path | None) -> Iterator[None]:
    """Turn expected failures into one clear sentence and unexpected ones into exit 3 with a log file."""
    try:
        yield
    except typer.Exit:
        raise
    except WarehouseBusy as exc:
        err.print(
            f"[red]The warehouse {exc} is in use by another process; wait for the other refresh (or close the "
            "tool holding it open) and run the command again.[/red]"
        )
        raise typer.Exit(EXIT_REJECTED) from None
    except Exception:
        paths = resolve_home(home)
        paths.logs.mkdir(parents=True, exist_ok=True)
        log = paths.logs / f"error-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        err.print(
            f"[red]Internal error (a bug in ifs-outcomes, not in your data); loads are all-or-nothing and published "
            "files are only ever replaced whole. "
            f"Details are in {log}; please report it with that file.[/red]"
        )
        raise typer.Exit(EXIT_INTERNAL) from None


@contextmanager
def _progress(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    with err.status("starting…") as status:

        def update(message: str) -> None:
            if enabled:
                status.update(message)

        yield update


def _print_summary(summary: RunSummary, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(summary.to_dict()))
        return
    for batch in summary.batches:
        colour = {0: "green", 1: "yellow"}.get(batch.exit_code, "red")
        out.print(f"[bold]{batch.batch_id}[/bold]  [{colour}]{batch.status}[/{colour}]")
        for error in batch.errors:
            out.print(f"  [red]{error['message']}[/red]")
        for name, counts in batch.tables.items():
            out.print(
                f"  {name:<9} received {counts['received']:>9,}  loaded {counts['loaded']:>9,}  "
                f"quarantined {counts['quarantined']:>7,}  duplicates {counts['duplicates']:>6,}"
            )
        if batch.quarantine_by_rule:
            rules = ", ".join(f"{rule} {n:,}" for rule, n in batch.quarantine_by_rule.items())
            out.print(f"  quarantined rows by rule: {rules}")
        csvs = [f for f in batch.quarantine_files if not f.endswith("_reasons.csv")]
        if csvs:
            out.print("  fix and resend (reasons beside each file):")
            for f in csvs:
                out.print(f"    {f}")
        for warning in batch.warnings:
            out.print(f"  [dim]note: {warning}[/dim]")
    if summary.as_of:
        out.print(f"warehouse as-of date: {summary.as_of}")
    for path in summary.published:
        out.print(f"published: {path}")


def _finish(summary: RunSummary, as_json: bool) -> None:
    _print_summary(summary, as_json)
    raise typer.Exit(summary.exit_code)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the batch into (created).")],
    clients: Annotated[int, typer.Option("--clients", min=1, help="Number of client episodes.")] = 3000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same batch.")] = 20261,
    as_of: Annotated[str, typer.Option("--as-of", help="The batch's export (as-of) date.")] = "2026-10-31",
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Write a synthetic practice batch (and its ground_truth.json) from a latent model of IFS work."""
    from pipeline import synth

    if fmt not in ("csv", "parquet"):
        err.print(f"[red]--format must be csv or parquet, not {fmt!r}.[/red]")
        raise typer.Exit(EXIT_REJECTED)
    as_of_date = _parse_date(as_of, "--as-of")
    with _guard(None), _progress() as progress:
        progress(f"generating {clients:,} client episodes")
        counts = synth.write_batch(out_dir, n_clients=clients, seed=seed, as_of=as_of_date, fmt=fmt)
    shown = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    out.print(f"wrote {out_dir} ({shown}) and {out_dir / 'ground_truth.json'}")


@app.command()
def validate(
    batches: Annotated[list[Path], typer.Argument(help="Batch folders.", show_default=False)],
    home: HomeOption = None,
    as_json: JsonOption = False,
    as_of: AsOfOption = None,
) -> None:
    """Check batches against the data contract and the warehouse as it stands, writing nothing."""
    from pipeline import stages

    run_date = _parse_date(as_of, "--as-of")
    with _guard(home), _progress() as progress:
        summary = stages.validate_batches(resolve_home(home), batches, run_date, progress=progress)
    _finish(summary, as_json)


@app.command()
def refresh(
    batches: Annotated[list[Path] | None, typer.Argument(help="Batch folders, loaded in the order given.")] = None,
    all_raw: Annotated[bool, typer.Option("--all", help="Every batch folder under <home>/raw, in name order.")] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
    as_of: AsOfOption = None,
    with_report: Annotated[
        bool, typer.Option("--report", help="Also write the report for the latest complete quarter afterwards.")
    ] = False,
) -> None:
    """Validate and load batches into the warehouse; quarantined rows are kept with their reasons."""
    from pipeline import stages

    paths = resolve_home(home)
    folders = list(batches or [])
    if all_raw:
        folders += stages.raw_batches(paths)
    if not folders:
        err.print(f"[red]No batch given; pass batch folders or --all (which looks in {paths.raw}).[/red]")
        raise typer.Exit(EXIT_REJECTED)
    run_date = _parse_date(as_of, "--as-of")
    with _guard(home), _progress() as progress:
        summary = stages.refresh_batches(paths, folders, run_date, progress=progress)
        report_folder = _write_report_if_published(paths) if with_report else None
    _print_summary(summary, as_json)
    if report_folder is not None and not as_json:
        out.print(f"report: {report_folder / 'report.html'}")
    raise typer.Exit(summary.exit_code)


def _write_report_if_published(paths: Paths) -> Path | None:
    """The default-period report, when there is a publication to report on (timed as the `report` stage)."""
    if not (paths.published / "aggregate.duckdb").exists():
        return None
    from pipeline.report import write_report
    from pipeline.stage_timing import stage

    with stage("report"):
        return write_report(paths)


@app.command()
def quickstart(
    home: HomeOption = None,
    clients: Annotated[int, typer.Option("--clients", min=1, help="Demo size when a demo batch is made.")] = 3000,
    as_json: JsonOption = False,
) -> None:
    """`make run`: make a demo batch under <home>/raw/demo when <home>/raw is empty, then refresh everything."""
    from pipeline import stages, synth

    paths = resolve_home(home)
    with _guard(home):
        if not stages.raw_batches(paths):
            with _progress() as progress:
                progress(f"no batch under {paths.raw}: generating a {clients:,}-client demo batch")
                synth.write_batch(paths.raw / "demo", n_clients=clients, seed=20261, as_of=dt.date(2026, 10, 31))
            err.print(f"made a demo batch in {paths.raw / 'demo'}")
        with _progress() as progress:
            summary = stages.refresh_batches(paths, stages.raw_batches(paths), dt.date.today(), progress=progress)
        report_folder = _write_report_if_published(paths)
    _print_summary(summary, as_json)
    if not as_json:
        out.print(f"warehouse: {paths.warehouse}")
        if report_folder is not None:
            out.print(f"report: {report_folder / 'report.html'}")
    raise typer.Exit(summary.exit_code)


@app.command()
def change(
    file: Annotated[Path, typer.Argument(help="A long-format CSV: one row per subject and time point.")],
    id_col: Annotated[str, typer.Option("--id", help="Subject id column.")],
    time_col: Annotated[str, typer.Option("--time", help="Time column.")],
    outcome: Annotated[str, typer.Option("--outcome", help="Outcome column.")],
    pre: Annotated[str, typer.Option("--pre", help="The time value of the pre measurement.")],
    reliability: Annotated[float, typer.Option("--reliability", help="The instrument's reliability, 0 < r < 1.")],
    better: Annotated[str, typer.Option("--better", help="Which direction is better: lower or higher.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write one row per subject (CSV).")],
    post: Annotated[str | None, typer.Option("--post", help="The time value of the post measurement.")] = None,
    method: Annotated[str, typer.Option("--method", help="jt, gln, hll, en, nk or ha.")] = "jt",
    reliability_post: Annotated[
        float | None,
        typer.Option("--reliability-post", help="Post reliability (Nunnally-Kotsch); default --reliability."),
    ] = None,
    cutoff: Annotated[
        str | None, typer.Option("--cutoff", help="a, b, c or a number (score on it = clinical).")
    ] = None,
    m_clinical: Annotated[float | None, typer.Option("--m-clinical", help="Clinical mean (default: pre mean).")] = None,
    sd_clinical: Annotated[float | None, typer.Option("--sd-clinical", help="Clinical SD (default: pre SD).")] = None,
    m_functional: Annotated[float | None, typer.Option("--m-functional", help="Functional (normative) mean.")] = None,
    sd_functional: Annotated[float | None, typer.Option("--sd-functional", help="Functional (normative) SD.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Report categories per value of this column.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Reliable and clinically significant change for any long-format CSV (Jacobson-Truax and alternatives)."""
    import polars as pl

    from pipeline import change as cs

    def usage(message: str) -> None:
        err.print(f"[red]{message}[/red]")
        raise typer.Exit(EXIT_REJECTED)

    if method not in cs.METHODS:
        usage(f"--method must be one of {', '.join(cs.METHODS)}, not {method!r}.")
    if better not in ("lower", "higher"):
        usage(f"--better must be lower or higher, not {better!r}.")
    parsed_cutoff: str | float | None = cutoff
    if cutoff is not None and cutoff not in ("a", "b", "c"):
        try:
            parsed_cutoff = float(cutoff)
        except ValueError:
            usage(f"--cutoff must be a, b, c or a number, not {cutoff!r}.")
    if cutoff in ("b", "c") and (m_functional is None or sd_functional is None):
        usage(f"--cutoff {cutoff} needs the functional norms: add --m-functional and --sd-functional.")
    try:
        separator = csv_separator(file)  # ';' and tab files too; a ';' file may write decimals as 2,5
        data = pl.read_csv(
            file, separator=separator, decimal_comma=separator == ";", null_values=["NA", ""], infer_schema_length=None
        )
    except (OSError, pl.exceptions.PolarsError) as exc:
        usage(f"{file}: cannot be read as CSV ({str(exc).splitlines()[0][:120]}); check the path and format.")
    with _guard(None):
        try:
            wide, n_in_data, n_dropped = cs.long_to_wide(
                data, id=id_col, time=time_col, outcome=outcome, pre=pre, post=post, group=group
            )
            analysis = cs.analyze_change(
                wide, id=id_col, method=method, reliability=reliability, reliability_post=reliability_post,
                higher_is_better=better == "higher", cutoff=parsed_cutoff, m_clinical=m_clinical,
                sd_clinical=sd_clinical, m_functional=m_functional, sd_functional=sd_functional, group=group,
                n_in_data=n_in_data, n_dropped=n_dropped,
            )  # fmt: skip
        except cs.ChangeError as exc:
            usage(f"{file}: {exc}.")
        renamed = {id_col: "id", **({group: "group"} if group else {})}
        table = analysis.subjects.rename(renamed)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        table.write_csv(out_file, float_precision=None)
    summary = analysis.summary(group)
    if as_json:
        out.print_json(json.dumps(summary, default=str))
    else:
        out.print(
            f"{cs.METHOD_NAMES[method]} reliable change: {summary['n_used']} of {summary['n_in_data']} subjects "
            f"used ({summary['n_dropped_missing']} dropped for missing values)"
        )
        for name, cell in summary["categories"].items():
            out.print(f"  {name:<13} {cell['n']:>6}  {100 * (cell['fraction'] or 0):5.1f}%")
        out.print(f"wrote {out_file}")
    raise typer.Exit(0)


import_app = typer.Typer(
    name="import",
    help="Turn a REDCap or FHIR export into a contract batch folder; then `refresh` it as usual.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")

ImportOutOption = Annotated[
    Path, typer.Option("--out", help="The batch folder to write (new, or empty); then `refresh` it.")
]
ExportedAtOption = Annotated[
    str | None,
    typer.Option("--exported-at", help="The batch's as-of date (YYYY-MM-DD) for batch.toml; default: see the docs."),
]
BatchIdOption = Annotated[
    str | None, typer.Option("--batch-id", help="batch_id for batch.toml (default: made by refresh).")
]


def _run_import(importer: str, as_json: bool, run: Callable[[], Any]) -> None:
    """Run an importer and print its report; exit 0 (all translated), 1 (something set aside) or 2 (refused)."""
    from rich.markup import escape

    from pipeline.importers.common import ImportRefused, ImportReport

    with _guard(None):
        try:
            report: ImportReport = run()
        except ImportRefused as exc:
            report = ImportReport(importer=importer, error=exc)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        raise typer.Exit(report.exit_code)
    if report.error is not None:
        out.print(f"[red]{escape(report.error.message)}[/red]")
        out.print("nothing was written")
        raise typer.Exit(report.exit_code)
    shown = ", ".join(f"{name} {rows:,}" for name, rows in report.tables.items())
    out.print(
        f"[bold]{report.out}[/bold]  [{'green' if report.exit_code == 0 else 'yellow'}]{report.status}[/]  ({shown})"
    )
    for reason, count in sorted(report.set_aside.items()):
        places = report.places.get(reason, [])
        more = escape(f" — e.g. {'; '.join(places)}") if places else ""
        out.print(f"  [yellow]not imported: {reason} {count:,}{more}[/yellow]")
    for note in report.notes:
        out.print(f"  [dim]note: {escape(note)}[/dim]")
    out.print(f"next: ifs-outcomes refresh {report.out}")
    raise typer.Exit(report.exit_code)


@import_app.command("redcap")
def import_redcap(
    records: Annotated[Path, typer.Argument(help="REDCap's records export (CSV, raw data; ',', ';' or tab).")],
    dictionary: Annotated[Path, typer.Option("--dictionary", help="The project's data dictionary (CSV).")],
    mapping: Annotated[Path, typer.Option("--mapping", help="The mapping file (TOML; see docs/importing.md).")],
    out_dir: ImportOutOption,
    exported_at: ExportedAtOption = None,
    batch_id: BatchIdOption = None,
    as_json: JsonOption = False,
) -> None:
    """REDCap records (repeating instruments and events included) → a contract batch folder."""
    from pipeline.importers.redcap import import_redcap as run
    from schemas.registry import default_registry

    as_of = _parse_date(exported_at, "--exported-at") if exported_at else None
    _run_import(
        "redcap",
        as_json,
        lambda: run(records, dictionary, mapping, out_dir, default_registry(), exported_at=as_of, batch_id=batch_id),
    )


@import_app.command("fhir")
def import_fhir(
    sources: Annotated[
        list[Path], typer.Argument(help="FHIR R4 Bundle JSON files, or folders of them.", show_default=False)
    ],
    out_dir: ImportOutOption,
    with_batch: Annotated[
        Path | None,
        typer.Option(
            "--with",
            help="A CSV batch supplying clients and sessions when the bundles have no "
            "EpisodeOfCare/Encounter resources.",
        ),
    ] = None,
    pseudonym: Annotated[
        str | None,
        typer.Option(
            "--pseudonym",
            help="Where the client pseudonym is: 'id' (the Patient's logical id) or "
            "'identifier:<system>'. Needed when the source holds identifiers (they are then left behind).",
        ),
    ] = None,
    exported_at: ExportedAtOption = None,
    batch_id: BatchIdOption = None,
    as_json: JsonOption = False,
) -> None:
    """FHIR R4 QuestionnaireResponse bundles (PHQ-9/GAD-7 by LOINC, others by canonical URL) → a batch folder."""
    from pipeline.importers.fhir import import_fhir as run
    from schemas.registry import default_registry

    as_of = _parse_date(exported_at, "--exported-at") if exported_at else None
    _run_import(
        "fhir",
        as_json,
        lambda: run(sources, out_dir, default_registry(), with_batch=with_batch, pseudonym=pseudonym,
                    exported_at=as_of, batch_id=batch_id),
    )  # fmt: skip


@app.command()
def report(
    home: HomeOption = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period", help="all, a quarter (2026-Q3) or a month (2026-09); default the latest complete quarter."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write <home>/reports/<period>/: report.html (self-contained), summary.json, summary.md and tables/*.csv."""
    from pipeline.report import ReportError, write_report

    paths = resolve_home(home)
    with _guard(home):
        try:
            folder = write_report(paths, period)
        except ReportError as exc:
            err.print(f"[red]{exc}.[/red]")
            raise typer.Exit(EXIT_REJECTED) from None
    if as_json:
        out.print_json((folder / "summary.json").read_text(encoding="utf-8"))
    else:
        out.print(f"report: {folder / 'report.html'}")
        out.print((folder / "summary.md").read_text(encoding="utf-8"))
    raise typer.Exit(0)


@app.command()
def export(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the research package to.")],
    home: HomeOption = None,
) -> None:
    """Write a de-identified research package (Parquet, data dictionary, manifest) for researchers."""
    from pipeline.export import ExportError, write_export

    paths = resolve_home(home)
    with _guard(home):
        try:
            manifest = write_export(paths, out_dir, command="ifs-outcomes " + " ".join(sys.argv[1:]))
        except ExportError as exc:
            err.print(f"[red]{exc}.[/red]")
            raise typer.Exit(EXIT_REJECTED) from None
    for name, facts in manifest["files"].items():
        if "rows" in facts:
            out.print(f"  {name:<24} {facts['rows']:>10,} rows")
    out.print(f"research package: {out_dir} (load it: see {out_dir / 'README.md'})")
    raise typer.Exit(0)


@app.command()
def dashboard(
    home: HomeOption = None,
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8501,
    clinical: Annotated[
        bool, typer.Option("--clinical", help="Also open the client-level file and show the client pages.")
    ] = False,
    address: Annotated[
        str, typer.Option("--address", help="Address to bind (default loopback: this machine only).")
    ] = "127.0.0.1",
) -> None:
    """Serve the practice dashboard (Streamlit) over the published files; aggregate mode unless --clinical."""
    import os

    paths = resolve_home(home)
    aggregate = paths.published / "aggregate.duckdb"
    if not aggregate.exists():
        err.print(f"[red]{aggregate} does not exist yet: run `make run` (or `ifs-outcomes refresh --all`) first.[/red]")
        raise typer.Exit(EXIT_REJECTED)
    if clinical and not (paths.published / "clinical.duckdb").exists():
        err.print(f"[red]{paths.published / 'clinical.duckdb'} does not exist yet: run a refresh first.[/red]")
        raise typer.Exit(EXIT_REJECTED)
    app_file = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
    env = {
        **os.environ,
        "IFS_OUTCOMES_HOME": str(paths.home.resolve()),
        "IFS_OUTCOMES_DASHBOARD_MODE": "clinical" if clinical else "aggregate",
    }
    command = [
        sys.executable, "-m", "streamlit", "run", str(app_file), "--server.headless=true",
        f"--server.address={address}", f"--server.port={port}", "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none", "--server.runOnSave=false", "--client.toolbarMode=viewer",
    ]  # fmt: skip
    mode = "clinical mode: client-level pages included" if clinical else "aggregate mode"
    err.print(f"dashboard ({mode}) at [bold]http://{address}:{port}[/bold] — open it in a browser; Ctrl+C stops it")
    sys.stdout.flush()
    sys.stderr.flush()
    # Become the server rather than wrap it: stopping this process (Ctrl+C, a test's terminate) stops it.
    os.execve(sys.executable, command, env)


@app.command()
def bench(
    tiers: Annotated[
        list[str] | None, typer.Option("--tier", help="S (1k clients), M (10k) or L (100k); repeat for several.")
    ] = None,
    cache: Annotated[
        Path | None, typer.Option("--cache", help="Where generated tiers are kept (default benchmarks/.cache).")
    ] = None,
    results: Annotated[
        Path | None, typer.Option("--results", help="Where results are written (default benchmarks/results).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Input format of the generated batches: csv or parquet.")
    ] = "csv",
    dashboard: Annotated[
        bool | None,
        typer.Option(
            "--dashboard/--no-dashboard", help="Also time every dashboard page (default: if Chromium is here)."
        ),
    ] = None,
) -> None:
    """Benchmark the full and the incremental refresh against the plain-DuckDB floor (see benchmarks/README.md)."""
    from benchmarks import runner
    from benchmarks.dashboard_harness import chromium
    from benchmarks.tiers import TIERS

    chosen = [t.upper() for t in (tiers or ["S"])]
    unknown = [t for t in chosen if t not in TIERS]
    if unknown or fmt not in ("csv", "parquet"):
        err.print(f"[red]--tier must be S, M or L and --format csv or parquet (got {unknown or fmt}).[/red]")
        raise typer.Exit(EXIT_REJECTED)
    with _guard(None), _progress() as progress:
        for name in chosen:
            try:
                record = runner.run_tier(
                    TIERS[name],
                    cache or runner.DEFAULT_CACHE,
                    fmt,
                    dashboard=chromium() is not None if dashboard is None else dashboard,
                    progress=progress,
                )
            except runner.BenchmarkFailed as exc:
                err.print(f"[red]Benchmark tier {name} failed: {exc}.[/red]")
                raise typer.Exit(EXIT_INTERNAL) from None
            _, markdown = runner.write_results(record, results or runner.RESULTS)
            out.print(markdown.read_text(encoding="utf-8"))
            out.print(f"results: {markdown}")
    raise typer.Exit(0)


@app.command()
def docs(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the data dictionary.")] = Path(
        "docs/data-dictionary.md"
    ),
) -> None:
    """Regenerate the data dictionary of the published tables from schemas/published.py (`make docs`)."""
    from pipeline.docs import data_dictionary_text

    with _guard(None):
        out_file.write_text(data_dictionary_text(), encoding="utf-8")
    out.print(f"wrote {out_file}")


def main(argv: list[str] | None = None) -> Any:
    """Entry point for the console script and ``python -m pipeline``."""
    return app(args=argv if argv is not None else sys.argv[1:], prog_name="ifs-outcomes")
