"""``alertrouter``: the SRE command line. One entry point; errors are one line and an exit code, not a traceback.

Exit codes: 0 ok; 1 the command failed (invalid configuration, API refused the request, not found);
2 usage error (or, for ``config validate``, coverage problems); 3 the API is unreachable; 4 401 or 403.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from alertrouter_cli import online
from alertrouter_cli.client import CliError
from alertrouter_cli.maintenance import maintenance_app
from alertrouter_cli.offline import config_app, route_app
from alertrouter_cli.overrides import override_app
from alertrouter_cli.reports import report_app


class _Commands(TyperGroup):
    """The root group: a ``CliError`` from any command becomes ``error: ...`` on stderr and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Commands,
    name="alertrouter",
    help="alertrouter for SREs: who is on call, why an alert went where it did, incidents, maintenance; "
    "offline route tests and configuration checks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help and usage errors: the same text in any terminal
)
app.add_typer(route_app, name="route")
app.add_typer(config_app, name="config")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(online.drill_app, name="drill")
app.add_typer(override_app, name="override")
app.add_typer(report_app, name="report")
for command in (
    online.oncall,
    online.why,
    online.incidents,
    online.ack,
    online.resolve,
    online.snooze,
    online.note,
    online.escalate,
    online.heartbeats,
):
    app.command()(command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
