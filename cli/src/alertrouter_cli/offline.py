"""Offline commands: they read a configuration folder and never talk to the router.

They import the router's pure ownership core lazily, so the online commands start without loading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alertrouter_cli.client import EXIT_FAILED, CliError
from alertrouter_cli.output import emit, emit_json
from alertrouter_cli.times import InstantError, parse_instant

if TYPE_CHECKING:
    from alertrouter_router.ownership.cli_validate import OutputFormat
    from alertrouter_router.ownership.loader import LoadedConfig

route_app = typer.Typer(help="Test routing offline against a configuration folder.", no_args_is_help=True)
config_app = typer.Typer(help="Check, compare and describe ownership configurations.", no_args_is_help=True)

ConfigPath = Annotated[
    Path, typer.Option("--config", "-c", help="configuration file or folder", exists=True, envvar="ALERTROUTER_CONFIG")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _load(path: Path) -> LoadedConfig:
    """The configuration without its integration secrets (offline tools run where the keys are not)."""
    from alertrouter_router.ownership.errors import ConfigError
    from alertrouter_router.ownership.loader import load_config

    try:
        return load_config(path, secrets=False)
    except ConfigError as exc:
        details = "\n".join(f"  {issue}" for issue in exc.issues)
        raise CliError(f"configuration {path} is invalid ({len(exc.issues)} error(s)):\n{details}") from exc


@route_app.command("test")
def route_test_command(
    config: ConfigPath,
    labels: Annotated[list[str] | None, typer.Argument(help="more labels: name=value ...", show_default=False)] = None,
    label_options: Annotated[
        list[str] | None, typer.Option("--labels", "-l", help="a label name=value (repeatable)", show_default=False)
    ] = None,
    at: Annotated[str, typer.Option(help="instant: now, +2h, -1d or ISO 8601 with offset")] = "now",
    integration: Annotated[str | None, typer.Option(help="integration id (its bound service wins)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Which service, team and policy an alert with these labels gets, and who each level pages."""
    from alertrouter_cli.route_test import parse_labels, render, route_test

    try:
        parsed = parse_labels([*(label_options or []), *(labels or [])])
        instant = parse_instant(at)
    except (ValueError, InstantError) as exc:
        raise CliError(str(exc), EXIT_FAILED) from exc
    loaded = _load(config)
    try:
        result = route_test(loaded, parsed, instant, integration)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    emit_json(result) if as_json else emit(render(result, loaded))


@config_app.command("validate")
def validate_command(
    path: Annotated[Path, typer.Argument(help="a YAML file or a folder of YAML files")],
    days: Annotated[int, typer.Option(help="coverage horizon in days", min=1, max=92)] = 14,
    output_format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    skip_secrets: Annotated[
        bool, typer.Option("--skip-secrets", help="do not read integration keys (CI without the deployment's secrets)")
    ] = False,
) -> None:
    """Validate a configuration and lint its on-call coverage. Exit 0 ok, 1 invalid, 2 coverage problems."""
    from alertrouter_router.ownership.cli_validate import validate_command as validate

    if output_format not in ("text", "json"):
        raise typer.BadParameter("--format is text or json")
    chosen: OutputFormat = "json" if output_format == "json" else "text"
    raise typer.Exit(validate(path, days, output_format=chosen, secrets=not skip_secrets))


@config_app.command("diff")
def diff_command(
    before: Annotated[Path, typer.Argument(help="the configuration as it is", exists=True)],
    after: Annotated[Path, typer.Argument(help="the configuration as proposed", exists=True)],
    at: Annotated[str, typer.Option(help="whose shift the change moves at this instant: now, +2h, ISO 8601")] = "now",
    as_json: JsonFlag = False,
) -> None:
    """What changes from A to B: items added, removed and changed (field by field), rule order, and who is on call
    at --at where the change hands a running shift to someone else (``on_call_now``)."""
    from alertrouter_router.ownership.diff import as_json as diff_json
    from alertrouter_router.ownership.diff import diff_configs, render

    try:
        instant = parse_instant(at)
    except InstantError as exc:
        raise CliError(str(exc), EXIT_FAILED) from exc
    diffs = diff_configs(_load(before).config, _load(after).config, instant)
    emit_json(diff_json(diffs)) if as_json else emit(render(diffs))


@config_app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of an ownership file (published as schemas/ownership.schema.json)."""
    from alertrouter_router.ownership.json_schema import render

    typer.echo(render(), nl=False)
