"""The `ifs-outcomes` command line: thin wrappers over ``pipeline.stages``.

Exit codes: 0 loaded (or already loaded), 1 loaded with quarantined rows, 2 batch rejected or usage error,
3 internal error (a bug: one sentence plus the path of a log with the details), 75 the warehouse is in use by
another process (nothing was done: try again later). Progress goes to stderr so
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
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.config import resolve_home
from pipeline.io import WarehouseBusy, csv_separator
from pipeline.progress import Count, Progress
from pipeline.settings import Settings, SettingsError
from pipeline.summary import EXIT_BUSY, EXIT_INTERNAL, EXIT_REJECTED, RunSummary

if TYPE_CHECKING:
    from schemas.registry import Registry

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
        help="The run date (YYYY-MM-DD), default today: the as-of date of batches without exported_at, and the "
        "latest exported_at accepted.",
    ),
]
SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--settings",
        help="A settings file to use over <home>/settings.toml (see `ifs-outcomes settings`).",
        show_default=False,
    ),
]


def _settings(home: Path | None, explicit: Path | None) -> Settings:
    """The settings in force; a bad file is a usage error with one sentence per bad key."""
    from pipeline import settings

    try:
        return settings.load(resolve_home(home).home, explicit)
    except SettingsError as exc:
        for problem in exc.problems:
            err.print(f"[red]{escape(str(problem))}.[/red]")
        err.print("[red]Fix the settings file (run `ifs-outcomes settings` to see every key) and run again.[/red]")
        raise typer.Exit(EXIT_REJECTED) from None


def _registry(home: Path | None, settings: Settings) -> Registry:
    """The instruments in force: the built-in ones plus the settings' extra folders; a bad file is a usage error."""
    from schemas.registry import RegistryError, registry_with

    try:
        return registry_with(settings.instrument_folders(resolve_home(home).home))
    except RegistryError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(EXIT_REJECTED) from None


def _parse_date(value: str | None, option: str) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        err.print(f"[red]{escape(str(option))} must be a date such as 2026-10-31, not {escape(repr(value))}.[/red]")
        raise typer.Exit(EXIT_REJECTED) from None


@contextmanager
def _guard(home: Path | None, as_json: bool = False) -> Iterator[None]:
    """Turn expected failures into one clear sentence and unexpected ones into exit 3 with a log file.

    A busy warehouse is found when it is opened, before any batch is read, so its exit code (75) never competes
    with a batch's; the log of an internal error has every identifier-shaped text redacted.
    """
    try:
        yield
    except typer.Exit:
        raise
    except WarehouseBusy as exc:
        message = (
            f"The warehouse {exc} is in use by another process; nothing was done — wait for the other refresh (or "
            "close the tool holding it open) and run the command again."
        )
        if as_json:
            out.print_json(json.dumps({"status": "busy", "exit_code": EXIT_BUSY, "message": message, "batches": []}))
        err.print(f"[red]{escape(str(message))}[/red]")
        raise typer.Exit(EXIT_BUSY) from None
    except Exception:
        from pipeline.identifiers import redact

        paths = resolve_home(home)
        paths.logs.mkdir(parents=True, exist_ok=True)
        log = paths.logs / f"error-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
        log.write_text(redact(traceback.format_exc()), encoding="utf-8")
        err.print(
            f"[red]Internal error (a bug in ifs-outcomes, not in your data); loads are all-or-nothing and published "
            "files are only ever replaced whole. "
            f"Details are in {log}; please report it with that file.[/red]"
        )
        raise typer.Exit(EXIT_INTERNAL) from None


@contextmanager
def _progress(enabled: bool = True) -> Iterator[Progress]:
    """One line per step on stderr (elapsed time, rows handled) — only on a terminal and never with ``--json``, so
    logs and piped output get the summary alone."""
    from pipeline.progress import TerminalProgress

    if not enabled or not err.is_terminal:
        yield Progress()
        return
    with TerminalProgress(err) as progress:
        yield progress


def _print_summary(summary: RunSummary, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(summary.to_dict()))
        return
    for batch in summary.batches:
        colour = {0: "green", 1: "yellow"}.get(batch.exit_code, "red")
        out.print(f"[bold]{batch.batch_id}[/bold]  [{colour}]{batch.status}[/{colour}]")
        for error in batch.errors:
            out.print(f"  [red]{escape(str(error['message']))}[/red]")
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
                out.print(f"    {escape(f)}")
        for warning in batch.warnings:
            out.print(f"  [dim]note: {escape(warning)}[/dim]")
    if summary.as_of:
        out.print(f"warehouse as-of date: {summary.as_of}")
    for path in summary.published:
        out.print(f"published: {path}")
    if summary.report:
        out.print(f"report: {summary.report}")
    if summary.report_error:
        err.print(f"[red]{escape(str(summary.report_error))}.[/red]")


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
        err.print(f"[red]--format must be csv or parquet, not {escape(repr(fmt))}.[/red]")
        raise typer.Exit(EXIT_REJECTED)
    as_of_date = _parse_date(as_of, "--as-of")
    with _guard(None), _progress() as progress:
        progress.step(f"generating {clients:,} client episodes", total=clients, unit="clients")
        counts = synth.write_batch(
            out_dir, n_clients=clients, seed=seed, as_of=as_of_date, fmt=fmt, advance=progress.advance
        )
        progress.done(Count(sum(counts.values())))
    shown = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    out.print(f"wrote {out_dir} ({shown}) and {out_dir / 'ground_truth.json'}")


@app.command()
def validate(
    batches: Annotated[list[Path], typer.Argument(help="Batch folders.", show_default=False)],
    home: HomeOption = None,
    as_json: JsonOption = False,
    as_of: AsOfOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Check batches against the data contract and the warehouse as it stands, writing nothing."""
    from pipeline import stages

    run_date = _parse_date(as_of, "--as-of")
    settings = _settings(home, settings_file)
    registry = _registry(home, settings)
    with _guard(home, as_json), _progress(not as_json) as progress:
        summary = stages.validate_batches(
            resolve_home(home), batches, run_date, registry, progress=progress, settings=settings
        )
    _finish(summary, as_json)


@app.command()
def refresh(
    batches: Annotated[list[Path] | None, typer.Argument(help="Batch folders, loaded in the order given.")] = None,
    all_raw: Annotated[bool, typer.Option("--all", help="Every batch folder under <home>/raw, in name order.")] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
    as_of: AsOfOption = None,
    settings_file: SettingsOption = None,
    with_report: Annotated[
        bool, typer.Option("--report", help="Also write the report for the latest complete quarter afterwards.")
    ] = False,
) -> None:
    """Validate and load batches into the warehouse; quarantined rows are kept with their reasons.

    Every refresh also brings what is derived from the warehouse up to date (outcomes, published files, quarantine
    files), so running it again after an interruption repairs whatever the interruption left behind.
    """
    from pipeline import stages

    paths = resolve_home(home)
    folders = list(batches or [])
    if all_raw:
        folders += stages.raw_batches(paths)
    if not folders and not all_raw:
        err.print(f"[red]No batch given; pass batch folders or --all (which looks in {escape(str(paths.raw))}).[/red]")
        raise typer.Exit(EXIT_REJECTED)
    run_date = _parse_date(as_of, "--as-of")
    settings = _settings(home, settings_file)
    registry = _registry(home, settings)
    with _guard(home, as_json), _progress(not as_json) as progress:
        summary = stages.refresh_batches(
            paths, folders, run_date, registry, progress=progress, settings=settings, with_report=with_report
        )
    _print_summary(summary, as_json)
    raise typer.Exit(summary.exit_code)


@app.command()
def quickstart(
    home: HomeOption = None,
    clients: Annotated[int, typer.Option("--clients", min=1, help="Demo size when a demo batch is made.")] = 3000,
    as_json: JsonOption = False,
    settings_file: SettingsOption = None,
) -> None:
    """`make run`: make a demo batch under <home>/raw/demo when <home>/raw is empty, then refresh everything."""
    from pipeline import stages, synth

    paths = resolve_home(home)
    settings = _settings(home, settings_file)
    registry = _registry(home, settings)
    with _guard(home, as_json):
        if not stages.raw_batches(paths):
            with _progress(not as_json) as progress:
                progress.step(
                    f"no batch under {paths.raw}: generating a {clients:,}-client demo batch", clients, "clients"
                )
                counts = synth.write_batch(
                    paths.raw / "demo", n_clients=clients, seed=20261, as_of=dt.date(2026, 10, 31),
                    advance=progress.advance,
                )  # fmt: skip
                progress.done(Count(sum(counts.values())))
            err.print(f"made a demo batch in {paths.raw / 'demo'}")
        with _progress(not as_json) as progress:
            summary = stages.refresh_batches(
                paths, stages.raw_batches(paths), dt.date.today(), registry, progress=progress, settings=settings,
                with_report=True,
            )  # fmt: skip
    _print_summary(summary, as_json)
    if not as_json:
        out.print(f"warehouse: {paths.warehouse}")
    raise typer.Exit(summary.exit_code)


@app.command("remove-batch")
def remove_batch(
    batch_id: Annotated[str, typer.Argument(help="The id of a loaded batch (see `ifs-outcomes batches`).")],
    cascade: Annotated[
        bool, typer.Option("--cascade", help="Also remove rows of later batches that belong to its clients.")
    ] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
    as_of: AsOfOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Take a loaded batch back: its rows, quarantine and as-of date go, recorded in the ledger; outcomes and
    published files are rebuilt. Use it for an export that should never have loaded (a wrong exported_at)."""
    from pipeline import stages

    paths = resolve_home(home)
    run_date = _parse_date(as_of, "--as-of")
    settings = _settings(home, settings_file)
    registry = _registry(home, settings)
    with _guard(home, as_json), _progress(not as_json) as progress:
        try:
            summary = stages.remove_batch(
                paths, batch_id, run_date, registry, settings=settings, cascade=cascade, progress=progress
            )
        except stages.RemovalRefused as exc:
            err.print(f"[red]{escape(str(exc))}.[/red]")
            raise typer.Exit(EXIT_REJECTED) from None
    if as_json:
        out.print_json(json.dumps(summary.to_dict()))
    else:
        [removed] = summary.batches
        for table, counts in removed.tables.items():
            shown = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items())
            out.print(f"  {table:<10} {shown}")
        out.print(f"removed batch {removed.batch_id}; warehouse as-of date: {summary.as_of or 'none (nothing loaded)'}")
        folder = paths.raw / removed.batch_id
        if folder.exists():
            out.print(f"[yellow]note: {folder} is still there; fix or delete it, or `refresh --all` loads it again.[/]")
    raise typer.Exit(0)


@app.command("settings")
def show_settings(
    home: HomeOption = None,
    settings_file: SettingsOption = None,
    as_json: JsonOption = False,
    template: Annotated[
        bool, typer.Option("--template", help="Print a complete, commented settings.toml to copy into the home.")
    ] = False,
) -> None:
    """The settings in force — every threshold the pipeline uses — with where each value came from."""
    from pipeline import settings as practice_settings

    current = _settings(home, settings_file)
    if template:
        out.print(practice_settings.template(current), markup=False, highlight=False)
        raise typer.Exit(0)
    rows = current.rows()
    if as_json:
        out.print_json(json.dumps(rows, default=list))
        raise typer.Exit(0)
    place = resolve_home(home).home / practice_settings.SETTINGS_FILE
    out.print(f"settings in force (defaults, then {place} if present, then --settings):")
    for row in rows:
        value = row["value"]
        shown = ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
        source = "" if row["source"] == "default" else f"  [yellow]from {row['source']}[/yellow]"
        out.print(f"  [bold]{row['key']}[/bold] = {shown}{source}")
        out.print(f"      [dim]{row['doc']}[/dim]")
    raise typer.Exit(0)


@app.command()
def instruments(home: HomeOption = None, settings_file: SettingsOption = None, as_json: JsonOption = False) -> None:
    """The instruments in force — built-in, and from the folders of `registry.extra_folders` — with the file each
    comes from, its scales and its licence terms."""
    from schemas.registry import INSTRUMENTS_DIR

    registry = _registry(home, _settings(home, settings_file))
    rows: list[dict[str, Any]] = [
        {
            "id": inst.id, "name": inst.name, "version": inst.version, "enabled": inst.id in registry.instruments,
            "built_in": registry.files[inst.id].parent == INSTRUMENTS_DIR, "file": str(registry.files[inst.id]),
            "scales": list(inst.scales), "licence": inst.licence, "citation": inst.citation,
        }
        for inst in sorted({**registry.instruments, **registry.disabled}.values(), key=lambda i: i.id)
    ]  # fmt: skip
    if as_json:
        out.print_json(json.dumps({"registry_version": registry.version, "instruments": rows}))
        raise typer.Exit(0)
    out.print(f"instrument registry {registry.version}:")
    for row in rows:
        where = "built-in" if row["built_in"] else f"from {escape(row['file'])}"
        state = "" if row["enabled"] else "  [yellow]disabled[/yellow]"
        out.print(f"  [bold]{row['id']}[/bold]  {escape(row['name'])} ({escape(row['version'])}), {where}{state}")
        out.print(f"      [dim]scales: {', '.join(row['scales'])} · licence: {escape(row['licence'])}[/dim]")
    raise typer.Exit(0)


@app.command()
def batches(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List the batches loaded in the warehouse (the ids `remove-batch` takes), oldest first."""
    from pipeline import io
    from pipeline.load import ACTIVE_LOADS

    paths = resolve_home(home)
    if not paths.warehouse.exists():
        err.print(
            f"[red]There is no warehouse under {escape(str(paths.home))} yet: run `make run` or "
            "`ifs-outcomes refresh`.[/red]"
        )
        raise typer.Exit(EXIT_REJECTED)
    with _guard(home, as_json), io.warehouse(paths.warehouse, read_only=True) as con:
        rows = io.query_pl(
            con,
            f"SELECT batch_id, as_of, status, finished_at AS loaded_at, counts FROM ({ACTIVE_LOADS}) "
            "QUALIFY row_number() OVER (PARTITION BY batch_id ORDER BY finished_at DESC) = 1 ORDER BY finished_at",
        )
    if as_json:
        out.print_json(json.dumps(rows.to_dicts(), default=str))
        raise typer.Exit(0)
    for row in rows.iter_rows(named=True):
        counts = json.loads(row["counts"])
        loaded = sum(c.get("loaded", 0) for c in counts.values())
        out.print(
            f"{row['batch_id']}  as of {row['as_of']}  {row['status']}  {loaded:,} rows  "
            f"loaded {row['loaded_at']:%Y-%m-%d %H:%M}"
        )
    if not rows.height:
        out.print("no batch is loaded")
    raise typer.Exit(0)


CHANGE_HELP = """Reliable and clinically significant change on any long-format CSV: the
approaches of the R package clinicalsignificance (Claus et al. 2024). The table
goes to --out, one row per subject (empty fields for NA); "group" appears only
with --group. Columns by approach:

distribution (default), --method jt|gln|hll|en|nk|ha:
  id, group, pre, post, change, rci, improved, deteriorated, clinical_pre,
  clinical_post (empty without a cutoff), category
distribution, --method hlm (every measurement; no --pre, no --reliability):
  id, group, n_measurements, pre (first), post (last), change, eb_slope,
  eb_sd, rci (= eb_slope / eb_sd), improved, deteriorated, category
combined (a --cutoff, default a, with --method or --mid-improvement):
  as above plus clinical_pre, clinical_post; category recovered / improved /
  unchanged / deteriorated / harmed. --cutoff-method ha (Hageman-Arrindell's
  true cutoff) adds cs_indiv, reliably_functional_post, reliably_clinical_post
statistical (--cutoff, default a; --cutoff-method jt|ha):
  id, group, pre, post, change, clinical_pre, clinical_post (plus the three
  HA columns with ha), category (improved = moved into the functional range)
percentage (--pct-improvement 0.5, --pct-deterioration):
  id, group, pre, post, change, pct_change, improved, deteriorated, category
anchor (--mid-improvement, --mid-deterioration):
  id, group, pre, post, change, improved, deteriorated, category;
  --target group: group, n, difference, lower, upper, ci_level, category;
  --effect between: reference, comparison, n_reference, n_comparison,
  difference, lower, upper, ci_level, category

--json: counts and fractions (0..1) per category, overall and per group, the
parameters, ha_group_level (changed, functional) with --method ha, the HLM fit
(model) with --method hlm, effect_sizes with --effect-sizes. Formulas and
every difference from the R package: docs/indicators.md."""


@app.command(help=CHANGE_HELP)
def change(
    file: Annotated[Path, typer.Argument(help="A long-format CSV: one row per subject and time point.")],
    id_col: Annotated[str, typer.Option("--id", help="Subject id column.")],
    time_col: Annotated[str, typer.Option("--time", help="Time column.")],
    outcome: Annotated[str, typer.Option("--outcome", help="Outcome column.")],
    better: Annotated[str, typer.Option("--better", help="Which direction is better: lower or higher.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the result table (CSV).")],
    pre: Annotated[
        str | None, typer.Option("--pre", help="The time value of the pre measurement (not with --method hlm).")
    ] = None,
    post: Annotated[str | None, typer.Option("--post", help="The time value of the post measurement.")] = None,
    approach: Annotated[
        str, typer.Option("--approach", help="distribution, statistical, combined, percentage or anchor.")
    ] = "distribution",
    method: Annotated[str, typer.Option("--method", help="jt, gln, hll, en, nk, ha or hlm.")] = "jt",
    reliability: Annotated[
        float | None,
        typer.Option("--reliability", help="The instrument's reliability, 0 < r < 1 (RCI methods, HA cutoffs)."),
    ] = None,
    reliability_post: Annotated[
        float | None,
        typer.Option("--reliability-post", help="Post reliability (Nunnally-Kotsch); default --reliability."),
    ] = None,
    cutoff: Annotated[
        str | None, typer.Option("--cutoff", help="a, b, c or a number (score on it = clinical).")
    ] = None,
    cutoff_method: Annotated[
        str, typer.Option("--cutoff-method", help="jt (Jacobson-Truax) or ha (Hageman-Arrindell's true cutoff).")
    ] = "jt",
    m_clinical: Annotated[float | None, typer.Option("--m-clinical", help="Clinical mean (default: pre mean).")] = None,
    sd_clinical: Annotated[float | None, typer.Option("--sd-clinical", help="Clinical SD (default: pre SD).")] = None,
    m_functional: Annotated[float | None, typer.Option("--m-functional", help="Functional (normative) mean.")] = None,
    sd_functional: Annotated[float | None, typer.Option("--sd-functional", help="Functional (normative) SD.")] = None,
    pct_improvement: Annotated[
        float | None, typer.Option("--pct-improvement", help="Percentage approach: 0.5 = a 50% change improves.")
    ] = None,
    pct_deterioration: Annotated[
        float | None, typer.Option("--pct-deterioration", help="Percentage approach; default --pct-improvement.")
    ] = None,
    mid_improvement: Annotated[
        float | None, typer.Option("--mid-improvement", help="Anchor approach: the MID in points.")
    ] = None,
    mid_deterioration: Annotated[
        float | None, typer.Option("--mid-deterioration", help="Anchor approach; default --mid-improvement.")
    ] = None,
    target: Annotated[str, typer.Option("--target", help="Anchor approach: individual or group.")] = "individual",
    effect: Annotated[
        str, typer.Option("--effect", help="Anchor, group target: within (paired t) or between (Welch t at --post).")
    ] = "within",
    reference_group: Annotated[
        str | None, typer.Option("--reference-group", help="Anchor, between: the reference group (default: first).")
    ] = None,
    ci_level: Annotated[float, typer.Option("--ci-level", help="Anchor, group target: CI level.")] = 0.95,
    group: Annotated[str | None, typer.Option("--group", help="Report categories per value of this column.")] = None,
    with_effect_sizes: Annotated[
        bool, typer.Option("--effect-sizes", help="Also give d, g and d_z with bootstrap CIs (overall, per group).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    import polars as pl

    from pipeline import change as cs
    from pipeline import change_approaches as ca

    def usage(message: str) -> None:
        err.print(f"[red]{escape(str(message))}[/red]")
        raise typer.Exit(EXIT_REJECTED)

    def note(message: str) -> None:
        err.print(f"[dim]note: {message}[/dim]")

    choices = {
        "--approach": (approach, ca.APPROACHES), "--method": (method, ca.RCI_METHODS),
        "--cutoff-method": (cutoff_method, ca.CUTOFF_METHODS), "--better": (better, ("lower", "higher")),
        "--target": (target, ("individual", "group")), "--effect": (effect, ("within", "between")),
    }  # fmt: skip
    for option, (value, allowed) in choices.items():
        if value not in allowed:
            usage(f"{option} must be one of {', '.join(allowed)}, not {value!r}.")
    parsed_cutoff: str | float | None = cutoff
    if cutoff is not None and cutoff not in ("a", "b", "c"):
        try:
            parsed_cutoff = float(cutoff)
        except ValueError:
            usage(f"--cutoff must be a, b, c or a number, not {cutoff!r}.")
    # `distribution` or `anchor` with a cutoff is the combined approach (as `change` has always done).
    if cutoff is not None and approach == "distribution":
        approach = "combined"
    if cutoff is not None and approach == "anchor" and target == "individual":
        approach = "combined"
    if approach in ("combined", "statistical") and parsed_cutoff is None:
        parsed_cutoff = "a"  # the package's default cutoff type
    if parsed_cutoff in ("b", "c") and (m_functional is None or sd_functional is None):
        usage(f"--cutoff {parsed_cutoff} needs the functional norms: add --m-functional and --sd-functional.")
    if approach == "anchor" and target == "group" and cutoff is not None:
        usage("--cutoff does not apply to a group-level anchor analysis; drop it or use --target individual.")
    uses_mid = approach == "anchor" or (approach == "combined" and mid_improvement is not None)
    if approach == "anchor" and mid_improvement is None:
        usage("--approach anchor needs --mid-improvement (the minimal important difference in points).")
    if not uses_mid and (mid_improvement is not None or mid_deterioration is not None):
        usage("--mid-improvement / --mid-deterioration belong to --approach anchor or combined.")
    if approach == "percentage" and pct_improvement is None:
        usage("--approach percentage needs --pct-improvement (0.5 = a 50% change from baseline).")
    if approach != "percentage" and (pct_improvement is not None or pct_deterioration is not None):
        usage("--pct-improvement / --pct-deterioration belong to --approach percentage.")
    if approach != "anchor" and (target != "individual" or effect != "within" or reference_group is not None):
        usage("--target, --effect and --reference-group belong to --approach anchor.")
    if effect == "between" and (target != "group" or group is None or post is None):
        usage("--effect between compares groups at one time point: add --target group, --group and --post.")
    if with_effect_sizes and effect == "between":
        usage("--effect-sizes needs paired pre/post scores, which --effect between does not use; drop one of them.")
    if method != "jt" and (approach not in ("distribution", "combined") or uses_mid):
        usage("--method chooses the RCI of --approach distribution or combined; drop it for this approach.")
    if cutoff_method == "ha" and approach not in ("combined", "statistical"):
        usage("--cutoff-method ha needs a cutoff: add --cutoff (a, b, c or a number).")
    hlm = approach in ("distribution", "combined") and not uses_mid and method == "hlm"
    rci_used = approach in ("distribution", "combined") and not uses_mid and not hlm
    needs_reliability = rci_used or (approach in ("statistical", "combined") and cutoff_method == "ha")
    if needs_reliability and reliability is None:
        usage(f"--reliability is needed for {'the RCI' if rci_used else 'the Hageman-Arrindell cutoff'}; add it.")
    if reliability is not None and not 0 < reliability < 1:
        usage(f"--reliability must be between 0 and 1 (exclusive), not {reliability}.")
    if reliability is not None and not needs_reliability:
        note(f"--reliability is not used by {'the HLM method' if hlm else f'--approach {approach}'}; ignored.")
    pre_needed = not hlm and effect != "between"
    if pre_needed and pre is None:
        usage("--pre is needed: give the time value of the pre measurement.")
    if not pre_needed and pre is not None:
        note("--pre is not used (HLM uses every measurement; --effect between uses --post only); ignored.")
    try:
        separator = csv_separator(file)  # ';' and tab files too; a ';' file may write decimals as 2,5
        data = pl.read_csv(
            file, separator=separator, decimal_comma=separator == ";", null_values=["NA", ""], infer_schema_length=None
        )
    except (OSError, pl.exceptions.PolarsError) as exc:
        usage(f"{file}: cannot be read as CSV ({str(exc).splitlines()[0][:120]}); check the path and format.")
    pre_value = pre if pre_needed else None
    result: cs.ChangeAnalysis | ca.AnchorGroupResult
    with _guard(None):
        try:
            if approach in ("distribution", "combined"):
                result = ca.cs_combined(
                    data, id_col, time_col, outcome, group, pre_value, post, mid_improvement=mid_improvement,
                    mid_deterioration=mid_deterioration, reliability=reliability if needs_reliability else None,
                    reliability_post=reliability_post, m_functional=m_functional, sd_functional=sd_functional,
                    better_is=better, rci_method=method, cutoff_type=parsed_cutoff, cutoff_method=cutoff_method,
                    m_clinical=m_clinical, sd_clinical=sd_clinical,
                )  # fmt: skip
            elif approach == "statistical":
                result = ca.cs_statistical(
                    data, id_col, time_col, outcome, group, pre_value, post, m_functional=m_functional,
                    sd_functional=sd_functional, reliability=reliability if needs_reliability else None,
                    better_is=better, cutoff_method=cutoff_method, cutoff_type=parsed_cutoff or "a",
                    m_clinical=m_clinical, sd_clinical=sd_clinical,
                )  # fmt: skip
            elif approach == "percentage":
                result = ca.cs_percentage(
                    data, id_col, time_col, outcome, group, pre_value, post, pct_improvement=pct_improvement,
                    pct_deterioration=pct_deterioration, better_is=better,
                )  # fmt: skip
            else:
                result = ca.cs_anchor(
                    data, id_col, time_col, outcome, group, pre_value, post, mid_improvement=mid_improvement,
                    mid_deterioration=mid_deterioration, better_is=better, target=target, effect=effect,
                    reference_group=reference_group, ci_level=ci_level,
                )  # fmt: skip
        except cs.ChangeError as exc:
            usage(f"{file}: {exc}.")
        if isinstance(result, ca.AnchorGroupResult):
            table = result.table
        else:
            table = result.subjects.rename({id_col: "id", **({group: "group"} if group else {})})
        out_file.parent.mkdir(parents=True, exist_ok=True)
        table.write_csv(out_file, float_precision=None)
        summary = result.summary(group)
        if with_effect_sizes:
            summary["effect_sizes"] = ca.effect_sizes_by_group(result, group, higher_is_better=better == "higher")
    if as_json:
        out.print_json(json.dumps(summary, default=str))
    else:
        _print_change(summary, result, out_file)
    raise typer.Exit(0)


def _print_change(summary: dict[str, Any], result: Any, out_file: Path) -> None:
    """The human-readable summary of `change`: counts, then any group-level block, the HLM fit and effect sizes."""
    params = summary["parameters"]
    title = {
        "statistical": "Statistical approach (moved between populations)",
        "percentage": "Percentage change",
        "anchor": "Anchor-based (MID)",
    }.get(
        params.get("approach", ""),
        f"{params['method_name']} reliable change" if "method_name" in params else "Anchor-based (MID) with a cutoff",
    )
    why = "missing values or fewer than 3 measurements" if params.get("method") == "hlm" else "missing values"
    out.print(
        f"{title}: {summary['n_used']} of {summary['n_in_data']} subjects used "
        f"({summary['n_dropped_missing']} dropped for {why})"
    )
    if summary.get("categories") is not None:
        for name, cell in summary["categories"].items():
            out.print(f"  {name:<13} {cell['n']:>6}  {100 * (cell['fraction'] or 0):5.1f}%")
    for row in summary.get("group_level", []):
        label = row.get("group") or f"{row['comparison']} vs {row['reference']}"
        out.print(
            f"  {label}: difference {row['difference']:.3g} [{row['lower']:.3g}, {row['upper']:.3g}] "
            f"({100 * row['ci_level']:g}% CI): {row['category']}"
        )
    model = summary.get("model")
    if model is not None:
        state = "converged" if model["converged"] else "[red]did not converge[/red]"
        slope = f", average slope {model['fixed_slope']:.3g}" if "fixed_slope" in model else ""
        out.print(f"HLM fit ({model['formula']}, {model['estimation']}): {state}{slope}")
        if model.get("message"):
            out.print(f"  [red]{escape(str(model['message']))}[/red]")
        for warning in model.get("warnings", []):
            out.print(f"  [dim]statsmodels: {warning}[/dim]")
    ha = summary.get("ha_group_level")
    if ha is not None:
        overall = ha["overall"]
        functional = "" if overall["functional"] is None else f", functional {100 * overall['functional']:.2f}%"
        out.print(f"Hageman-Arrindell group level: changed {100 * (overall['changed'] or 0):.2f}%{functional}")
    sizes = summary.get("effect_sizes")
    if sizes is not None:
        es = sizes["overall"]

        def fmt(name: str) -> str:
            lo, hi = es[f"{name}_ci"]
            value = es[name]
            ci = "" if lo is None else f" [{lo:.2f}, {hi:.2f}]"
            return f"{name} {value:.2f}{ci}" if value is not None else f"{name} n/a"

        out.print(f"Effect sizes (positive = better, 95% CI): {', '.join(fmt(n) for n in ('d', 'g', 'dz'))}")
    out.print(f"wrote {out_file}")


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
    home: HomeOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """REDCap records (repeating instruments and events included) → a contract batch folder."""
    from pipeline.importers.redcap import import_redcap as run

    as_of = _parse_date(exported_at, "--exported-at") if exported_at else None
    registry = _registry(home, _settings(home, settings_file))
    _run_import(
        "redcap",
        as_json,
        lambda: run(records, dictionary, mapping, out_dir, registry, exported_at=as_of, batch_id=batch_id),
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
    home: HomeOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """FHIR R4 QuestionnaireResponse bundles (PHQ-9/GAD-7 by LOINC, others by canonical URL) → a batch folder."""
    from pipeline.importers.fhir import import_fhir as run

    as_of = _parse_date(exported_at, "--exported-at") if exported_at else None
    registry = _registry(home, _settings(home, settings_file))
    _run_import(
        "fhir",
        as_json,
        lambda: run(sources, out_dir, registry, with_batch=with_batch, pseudonym=pseudonym,
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
    audience: Annotated[
        str,
        typer.Option(
            "--audience",
            help="shareable (default: disclosure-controlled) or internal (every number exact, under "
            "reports/internal/, marked not for sharing on every page).",
        ),
    ] = "shareable",
    as_json: JsonOption = False,
) -> None:
    """Write <home>/reports/<period>/: report.html (self-contained), summary.json, summary.md and tables/*.csv."""
    from pipeline.report import ReportError, write_report

    paths = resolve_home(home)
    with _guard(home):
        try:
            folder = write_report(paths, period, audience)
        except ReportError as exc:
            err.print(f"[red]{escape(str(exc))}.[/red]")
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
            err.print(f"[red]{escape(str(exc))}.[/red]")
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
    aggregate = paths.aggregate_file
    if not aggregate.exists():
        err.print(
            f"[red]{escape(str(aggregate))} does not exist yet: run `make run` (or `ifs-outcomes refresh --all`) "
            "first.[/red]"
        )
        raise typer.Exit(EXIT_REJECTED)
    if clinical and not paths.clinical_file.exists():
        err.print(f"[red]{escape(str(paths.clinical_file))} does not exist yet: run a refresh first.[/red]")
        raise typer.Exit(EXIT_REJECTED)
    from importlib import resources

    app_file = Path(str(resources.files("dashboards") / "app.py"))  # a file on disk: the package is installed
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
        list[str] | None,
        typer.Option("--tier", help="S (1k clients), M (10k), L (100k) or XL (1M); repeat for several."),
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
    try:
        from benchmarks import runner
        from benchmarks.dashboard_harness import chromium
        from benchmarks.tiers import TIERS
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks":
            raise
        err.print(
            "[red]The benchmarks are not part of the installed package: run them from a checkout of the source "
            "(`make bench` there).[/red]"
        )
        raise typer.Exit(EXIT_REJECTED) from None

    chosen = [t.upper() for t in (tiers or ["S"])]
    unknown = [t for t in chosen if t not in TIERS]
    if unknown or fmt not in ("csv", "parquet"):
        err.print(
            f"[red]--tier must be S, M, L or XL and --format csv or parquet (got {escape(str(unknown or fmt))}).[/red]"
        )
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
                err.print(f"[red]Benchmark tier {escape(str(name))} failed: {escape(str(exc))}.[/red]")
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
    notice_file: Annotated[
        Path, typer.Option("--notice", help="Where to write the notices (licences of the built-in instruments).")
    ] = Path("NOTICE.md"),
) -> None:
    """Regenerate the data dictionary of the published tables (schemas/published.py) and NOTICE.md (the registry's
    licence notes) — `make docs`."""
    from schemas.published import data_dictionary
    from schemas.registry import notice

    with _guard(None):
        out_file.write_text(data_dictionary(), encoding="utf-8")
        notice_file.write_text(notice(), encoding="utf-8")
    out.print(f"wrote {out_file} and {notice_file}")


def main(argv: list[str] | None = None) -> Any:
    """Entry point for the console script and ``python -m pipeline``."""
    return app(args=argv if argv is not None else sys.argv[1:], prog_name="ifs-outcomes")
