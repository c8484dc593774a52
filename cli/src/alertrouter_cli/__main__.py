"""``alertrouter``: the SRE command line. One entry point; errors are one line and an exit code, not a traceback.

Exit codes: 0 ok; 1 the command failed (invalid configuration, API refused the request, not found);
2 usage error (or, for ``config validate``, coverage problems); 3 the API is unreachable; 4 401 or 403.
"""

from __future__ import annotations

import typer

from alertrouter_cli import online
from alertrouter_cli.offline import config_app, route_app

app = typer.Typer(
    name="alertrouter",
    help="alertrouter for SREs: who is on call, why an alert went where it did, incidents, maintenance; "
    "offline route tests and configuration checks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(route_app, name="route")
app.add_typer(config_app, name="config")
app.add_typer(online.maintenance_app, name="maintenance")
for command in (online.oncall, online.why, online.incidents, online.ack, online.resolve):
    app.command()(command)


def main() -> None:
    """Run the app; a ``CliError`` anywhere is printed as ``error: ...`` on stderr and exits with its code."""
    app()


if __name__ == "__main__":
    main()
