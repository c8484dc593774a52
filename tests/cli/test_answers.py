"""Answers that are not the router API's: a proxy's redirect or a web page where JSON was expected.

``ALERTROUTER_URL`` is often typed as ``http://`` for a router behind an HTTPS redirect, or pointed at the console
or a login page: the command must say so in one line, not fail with a traceback. So must an instant or a span the
command cannot use, before it asks anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli.conftest import run_cli


async def _serve(head: str, body: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(f"{head}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
    writer.close()


async def _server(head: str, body: bytes) -> AsyncIterator[str]:
    server = await asyncio.start_server(lambda r, w: _serve(head, body, r, w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def redirecting() -> AsyncIterator[str]:
    moved = "HTTP/1.1 301 Moved Permanently\r\nLocation: https://router.example.com/v1/incidents"
    async for url in _server(moved, b""):
        yield url


@pytest.fixture
async def web_page() -> AsyncIterator[str]:
    page = b"<html><body>Sign in</body></html>"
    async for url in _server("HTTP/1.1 200 OK\r\nContent-Type: text/html", page):
        yield url


async def test_a_redirect_names_where_the_api_moved(redirecting: str) -> None:
    ran = await run_cli("incidents", env={"ALERTROUTER_URL": redirecting, "ALERTROUTER_TOKEN": "t"})
    assert "Traceback" not in ran.err and ran.code == 1, ran
    [line] = ran.err.strip().splitlines()
    assert line == (
        f"error: 301 Moved Permanently from {redirecting}/v1/incidents?limit=50: the API is at "
        "https://router.example.com/v1/incidents (set ALERTROUTER_URL to its base)"
    )


async def test_a_web_page_instead_of_json_is_one_line(web_page: str) -> None:
    ran = await run_cli("oncall", "checkout", env={"ALERTROUTER_URL": web_page, "ALERTROUTER_TOKEN": "t"})
    assert "Traceback" not in ran.err and ran.code == 1, ran
    [line] = ran.err.strip().splitlines()
    assert line == (
        f"error: {web_page}/v1/oncall?service=checkout answered text/html, not the router API's JSON "
        "(is ALERTROUTER_URL the router's API?)"
    )


@pytest.mark.parametrize(
    ("env", "code", "line"),
    [
        (
            {"ALERTROUTER_URL": "http://router:80a", "ALERTROUTER_TOKEN": "t"},
            1,
            "error: invalid command line configuration: ALERTROUTER_URL: Invalid port: '80a'",
        ),
        (
            {"ALERTROUTER_URL": "router.example.com", "ALERTROUTER_TOKEN": "t"},
            1,
            "error: invalid command line configuration: ALERTROUTER_URL: not an http:// or https:// URL",
        ),
        (
            {"ALERTROUTER_URL": "http://127.0.0.1:9", "ALERTROUTER_TOKEN": "t\u00f6ken"},
            4,
            "error: the API token (ALERTROUTER_TOKEN) has a character no token has (only printable ASCII): "
            "copy it again",
        ),
    ],
)
async def test_a_mistyped_setting_is_one_line(env: dict[str, str], code: int, line: str) -> None:
    ran = await run_cli("incidents", env=env)
    assert "Traceback" not in ran.err and ran.code == code, ran
    assert ran.err.strip().splitlines() == [line]


async def test_a_token_file_saved_with_a_byte_order_mark_is_read(web_page: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(b"\xef\xbb\xbfsecret-token\n")
    settings = tmp_path / "cli.toml"
    settings.write_text(f'url = "{web_page}"\ntoken_file = "{token_file}"\n', encoding="utf-8")
    ran = await run_cli("incidents", env={"ALERTROUTER_CLI_CONFIG": str(settings)})
    assert "Traceback" not in ran.err and ran.code == 1, ran  # the request was made: the page is not JSON
    assert ran.err.startswith(f"error: {web_page}/v1/incidents?limit=50 answered text/html"), ran


@pytest.fixture
async def bad_gateway() -> AsyncIterator[str]:
    page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    page += b"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    async for url in _server("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html", page):
        yield url


@pytest.fixture
async def plain_unavailable() -> AsyncIterator[str]:
    async for url in _server("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain", b"upstream\nreset\n"):
        yield url


async def test_a_proxys_error_page_is_one_line(bad_gateway: str, plain_unavailable: str) -> None:
    ran = await run_cli("oncall", "checkout", env={"ALERTROUTER_URL": bad_gateway, "ALERTROUTER_TOKEN": "t"})
    assert "Traceback" not in ran.err and ran.code == 1, ran
    assert ran.err.strip().splitlines() == [
        "error: 502 Bad Gateway: a web page from 127.0.0.1, not the router API's problem+json (a proxy before it?)"
    ]
    ran = await run_cli("oncall", "checkout", env={"ALERTROUTER_URL": plain_unavailable, "ALERTROUTER_TOKEN": "t"})
    assert ran.code == 1 and ran.err.strip().splitlines() == ["error: 503 Service Unavailable: upstream reset"], ran


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (["oncall", "checkout", "--at", "+99999999999d"], 1, "error: '+99999999999d' is too far from now"),
        (["oncall", "checkout", "--at", "+9999999d"], 1, "error: '+9999999d' is too far from now"),
        (
            ["report", "oncall", "--since", "9999-12-31T23:59:59-05:00"],
            1,
            "error: '9999-12-31T23:59:59-05:00' has no UTC equivalent (out of range)",
        ),
        (["maintenance", "add", "storm", "--for", "99999999999d"], 1, "error: '99999999999d' is too long a duration"),
        (["override", "add", "s", "-u", "bob", "--for", "9999999d"], 1, "error: --for 9999999d: the end would be"),
        # neither or both of --for and --until: a usage error, exit 2 (docs/cli.md), as 'oncall' with neither
        (["maintenance", "add", "storm"], 2, "error: give --for DURATION or --until TIME"),
        (["override", "add", "s", "-u", "bob", "--for", "1h", "--until", "+2h"], 2, "error: give --for DURATION or"),
    ],
)
async def test_an_instant_or_span_it_cannot_use_is_one_line(args: list[str], code: int, line: str) -> None:
    """Refused before any request (the address is closed): an overflow was a traceback, and exit 1 for a usage error."""
    ran = await run_cli(*args, env={"ALERTROUTER_URL": "http://127.0.0.1:9", "ALERTROUTER_TOKEN": "t"})
    assert "Traceback" not in ran.err and ran.code == code, ran
    [said] = ran.err.strip().splitlines()
    assert said.startswith(line), said
