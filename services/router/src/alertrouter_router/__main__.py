"""``alertrouter-router``: consume | api | run | migrate | config validate | token create."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alertrouter_router.settings import RouterSettings
from alertrouter_shared.logging import configure_logging
from alertrouter_shared.serving import run_fast

app = typer.Typer(help="alertrouter router: dedup, ownership, on-call, escalation and routing decisions.")
config_app = typer.Typer(help="Ownership configuration tools.")
app.add_typer(config_app, name="config")
token_app = typer.Typer(help="API tokens of people and machine clients.")
app.add_typer(token_app, name="token")


def _settings() -> RouterSettings:
    settings = RouterSettings()
    configure_logging("router", settings.log_level, settings.log_format)
    return settings


@app.command()
def consume() -> None:
    """Consume alert events, keep incidents, fire escalation timers and publish pages (no SRE API)."""
    from alertrouter_router.runtime import run_router

    run_fast(run_router(_settings(), serve_api=False))


@app.command()
def api() -> None:
    """Serve the SRE API only (scale separately from the consumers)."""
    from alertrouter_router.runtime import run_router

    run_fast(run_router(_settings(), consume=False))


@app.command()
def run() -> None:
    """Consumer, timers and SRE API in one process (the dev stack's default)."""
    from alertrouter_router.runtime import run_router

    run_fast(run_router(_settings()))


@app.command()
def migrate(wait: Annotated[float, typer.Option(help="seconds to wait for the database")] = 60.0) -> None:
    """Apply the router's database migrations (Alembic upgrade head)."""
    from alertrouter_router.db.migrate import upgrade_to_head

    upgrade_to_head(_settings().database_url, wait)


@config_app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="a YAML file or a directory of YAML files")],
    days: Annotated[int, typer.Option(help="coverage horizon in days")] = 14,
) -> None:
    """Validate an ownership configuration and lint its on-call coverage (exit code for CI)."""
    from alertrouter_router.ownership.cli_validate import validate_command

    raise typer.Exit(validate_command(path, days))


@token_app.command("create")
def token_create(
    user: Annotated[str | None, typer.Option(help="a user of the ownership configuration")] = None,
    client: Annotated[str | None, typer.Option(help="or the name of a machine client")] = None,
    role: Annotated[str, typer.Option(help="viewer, responder, team_admin or admin")] = "responder",
    act_as: Annotated[bool, typer.Option(help="machine clients only: may act on behalf of a named person")] = False,
    expires_in_days: Annotated[int | None, typer.Option(help="default: never expires")] = None,
    description: Annotated[str, typer.Option(help="what the token is for")] = "",
) -> None:
    """Create an API token in the database and print its secret (shown only this once)."""
    from alertrouter_router.token_cli import create_token_command

    raise typer.Exit(
        run_fast(create_token_command(_settings(), user, client, role, act_as, expires_in_days, description))
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
