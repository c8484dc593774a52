"""DATABASE_URL as operators write it: a plain postgresql:// URL, and a password from a Secret kept apart."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from pydantic import ValidationError

from alertrouter_router.db.migrate import alembic_config
from alertrouter_shared.settings import CommonSettings


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+asyncpg"])
def test_libpq_style_urls_are_read_as_asyncpg_urls(scheme: str) -> None:
    settings = CommonSettings(database_url=f"{scheme}://app@db.internal:5432/alertrouter?ssl=verify-full")
    assert settings.database_url == "postgresql+asyncpg://app@db.internal:5432/alertrouter?ssl=verify-full"


def test_other_schemes_are_left_for_sqlalchemy_to_refuse() -> None:
    assert CommonSettings(database_url="mysql://x@y/z").database_url == "mysql://x@y/z"


def test_a_password_with_any_character_is_encoded_into_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    password = "p@ss:w/rd%?#&="
    monkeypatch.setenv("DATABASE_URL", "postgresql://alertrouter@db.internal:5432/alertrouter?ssl=require")
    monkeypatch.setenv("DATABASE_PASSWORD", password)
    url = CommonSettings().database_url
    parts = urlsplit(url)
    assert parts.scheme == "postgresql+asyncpg"
    assert (parts.username, unquote(parts.password or ""), parts.hostname, parts.port) == (
        "alertrouter",
        password,
        "db.internal",
        5432,
    )
    assert parts.path == "/alertrouter" and parts.query == "ssl=require"
    # Alembic's configparser would read '%' as interpolation: the router's migrations must get the URL back intact.
    assert alembic_config(url).get_main_option("sqlalchemy.url") == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:already@db/x", "already has a password"),
        ("postgresql://db/x", "names no user"),
    ],
)
def test_a_password_that_cannot_be_placed_is_refused(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CommonSettings(database_url=url, database_password="secret")  # type: ignore[arg-type]
