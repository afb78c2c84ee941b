"""The `ifs-outcomes` command line: thin wrappers over ``pipeline.stages``.

Exit codes: 0 loaded (or already loaded), 1 loaded with quarantined rows, 2 batch rejected or usage error,
3 internal error (a bug: one sentence plus the path of a log with the details). Progress goes to stderr so
``--json`` output on stdout stays machine-readable.
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

from pipeline import stages
from pipeline.config import resolve_home
from pipeline.io import WarehouseBusy
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
            f"[red]Internal error (a bug in ifs-outcomes, not in your data); nothing was half-written. "
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
) -> None:
    """Validate and load batches into the warehouse; quarantined rows are kept with their reasons."""
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
    _finish(summary, as_json)


@app.command()
def quickstart(
    home: HomeOption = None,
    clients: Annotated[int, typer.Option("--clients", min=1, help="Demo size when a demo batch is made.")] = 3000,
    as_json: JsonOption = False,
) -> None:
    """`make run`: make a demo batch under <home>/raw/demo when <home>/raw is empty, then refresh everything."""
    from pipeline import synth

    paths = resolve_home(home)
    with _guard(home):
        if not stages.raw_batches(paths):
            with _progress() as progress:
                progress(f"no batch under {paths.raw}: generating a {clients:,}-client demo batch")
                synth.write_batch(paths.raw / "demo", n_clients=clients, seed=20261, as_of=dt.date(2026, 10, 31))
            err.print(f"made a demo batch in {paths.raw / 'demo'}")
        with _progress() as progress:
            summary = stages.refresh_batches(paths, stages.raw_batches(paths), dt.date.today(), progress=progress)
    _print_summary(summary, as_json)
    if not as_json:
        out.print(f"warehouse: {paths.warehouse}")
    raise typer.Exit(summary.exit_code)


def main(argv: list[str] | None = None) -> Any:
    """Entry point for the console script and ``python -m pipeline``."""
    return app(args=argv if argv is not None else sys.argv[1:], prog_name="ifs-outcomes")
