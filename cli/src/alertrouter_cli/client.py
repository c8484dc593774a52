"""The router's SRE API as the command line sees it: where it is, which token, and errors people can act on.

Settings come from the environment (``ALERTROUTER_URL``, ``ALERTROUTER_TOKEN``, ``ALERTROUTER_USER``) over a
TOML file (``ALERTROUTER_CLI_CONFIG``, default ``$XDG_CONFIG_HOME/alertrouter/cli.toml``). Every failure
(unreachable API, 401, 403, any other problem) becomes a ``CliError`` with one clear line and its own exit
code, never a traceback.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_URL = "http://127.0.0.1:8081"
EXIT_FAILED = 1
EXIT_USAGE = 2  # as typer's own usage errors (an unknown option, a missing argument)
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4


class CliError(Exception):
    """A failure the command reports in one line (``error: ...``) before exiting with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ClientSettings(BaseModel):
    """Where the API is and how to authenticate; ``user`` is who acknowledges and resolves."""

    model_config = ConfigDict(extra="forbid")

    url: str = DEFAULT_URL
    token: str | None = Field(default=None, repr=False)
    token_file: Path | None = None
    user: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        """Checked here, so that a typo is a line naming the setting rather than a traceback from the HTTP client."""
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(str(exc)) from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("not an http:// or https:// URL")
        return value


def quoted(value: str) -> str:
    """An id the user typed, as one segment of an API path: a ``?``, ``#`` or ``/`` in it (a pasted ``#7ee2…``)
    otherwise cut the path or moved it elsewhere (``..``), and a control character made an httpx traceback."""
    if value.strip(".") == "":
        raise CliError(f"{value!r} is not an id", EXIT_USAGE)
    return quote(value, safe="")


def config_file(environ: Mapping[str, str]) -> Path:
    explicit = environ.get("ALERTROUTER_CLI_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "alertrouter" / "cli.toml"


def _file_values(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"cannot read the command line's configuration {path}: {exc}") from exc


def load_settings(environ: Mapping[str, str] | None = None) -> ClientSettings:
    """File values first, then the environment over them."""
    env = os.environ if environ is None else environ
    path = config_file(env)
    values = _file_values(path)
    from_env = {
        name: f"ALERTROUTER_{name.upper()}"
        for name in ("url", "token", "user")
        if env.get(f"ALERTROUTER_{name.upper()}")
    }
    values |= {name: env[variable] for name, variable in from_env.items()}
    try:
        return ClientSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(_problem(e, from_env, path) for e in exc.errors())
        raise CliError(f"invalid command line configuration: {problems}") from exc


def _problem(error: Any, from_env: Mapping[str, str], path: Path) -> str:
    """One setting's problem, named where the user wrote it: the environment variable, else the file's key."""
    key = ".".join(map(str, error["loc"]))
    where = from_env.get(key) or f"{path}: {key}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def acting_user(settings: ClientSettings, given: str | None) -> str | None:
    """Who acts, when it is said: ``--by``, else the configured user. Otherwise nothing is sent and the router
    records the token's own identity (a person's token acts as that person; naming someone else needs a machine
    client with act_as)."""
    return given or settings.user or None


def _token(settings: ClientSettings) -> str:
    if settings.token:
        return _usable(settings.token, "ALERTROUTER_TOKEN")
    if settings.token_file is not None:
        try:  # utf-8-sig: an editor's byte order mark is not part of the token
            text = settings.token_file.expanduser().read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CliError(f"cannot read token_file {settings.token_file}: {exc.strerror}", EXIT_AUTH) from exc
        return _usable(text, f"token_file {settings.token_file}")
    raise CliError(
        "no API token: set ALERTROUTER_TOKEN, or token / token_file in the command line's configuration file",
        EXIT_AUTH,
    )


def _usable(token: str, source: str) -> str:
    """A header carries printable ASCII only: anything else (a pasted typographic character) is named, without
    showing the token, instead of failing inside the HTTP client."""
    token = token.strip()
    if not (token.isascii() and token.isprintable()):
        raise CliError(
            f"the API token ({source}) has a character no token has (only printable ASCII): copy it again", EXIT_AUTH
        )
    return token


def _detail(response: httpx.Response) -> str:
    """The problem's ``detail`` (the router answers problem+json), else the start of the body or the reason."""
    try:
        body = response.json()
    except ValueError:  # not the API's answer: a proxy's or load balancer's, kept to one line
        if response.headers.get("content-type", "").startswith("text/html"):
            return f"a web page from {response.url.host}, not the router API's problem+json (a proxy before it?)"
        return " ".join(response.text.split())[:200] or response.reason_phrase
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    return response.reason_phrase


class ApiClient:
    """One HTTP client per command; ``request`` returns the response of a 2xx or raises ``CliError``."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        """``settings``: those of the file and the environment (``load_settings``) unless given."""
        settings = settings or load_settings()
        self.url = settings.url.rstrip("/")
        headers = {"Authorization": f"Bearer {_token(settings)}", "Accept": "application/json"}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=settings.timeout_seconds)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise CliError(f"cannot reach the router API at {self.url}: {reason}", EXIT_UNREACHABLE) from exc
        if response.status_code == 401:
            raise CliError(f"401 unauthorised by {self.url}: {_detail(response)} (check ALERTROUTER_TOKEN)", EXIT_AUTH)
        if response.status_code == 403:
            raise CliError(f"403 forbidden: {_detail(response)}", EXIT_AUTH)
        if response.is_error:
            raise CliError(f"{response.status_code} {response.reason_phrase}: {_detail(response)}")
        if response.is_redirect:  # httpx does not follow it: a token is not sent on to wherever it points
            raise CliError(
                f"{response.status_code} {response.reason_phrase} from {response.url}: the API is at "
                f"{response.headers.get('location', '?')} (set ALERTROUTER_URL to its base)"
            )
        return response

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        """The body as JSON; a page of a proxy or the console (wrong ``ALERTROUTER_URL``) is one line, too."""
        try:
            return response.json()
        except ValueError as exc:
            kind = response.headers.get("content-type", "a body").split(";")[0] or "a body"
            raise CliError(
                f"{response.url} answered {kind}, not the router API's JSON (is ALERTROUTER_URL the router's API?)"
            ) from exc

    def get(self, path: str, **params: Any) -> Any:
        query = {key: value for key, value in params.items() if value is not None}
        return self._json(self.request("GET", path, params=query))

    def text(self, path: str) -> str:
        return self.request("GET", path, headers={"Accept": "text/plain"}).text

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._json(self.request("POST", path, json=dict(body)))

    def delete(self, path: str) -> Any:
        return self._json(self.request("DELETE", path))
