"""An incident named by the start of its id, as people read it off an SMS or an e-mail subject ("#7ee2dd81").

Whole ids are long; the messages show the first eight hex digits. A command that acts on an incident accepts
those (or any 6 to 35 characters of the id's start, dashes optional, a leading ``#`` allowed) when exactly one
open incident, real or drill, starts that way. A closed incident needs its whole id: a prefix that once named
one incident may name several later, and acting on the wrong one is worse than asking for more characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from alertrouter_cli.client import ApiClient, CliError

_PREFIX = re.compile(r"#?[0-9a-f][0-9a-f-]{5,34}")


def _hex(text: str) -> str:
    return text.removeprefix("#").replace("-", "")


def match_prefix(given: str, open_ids: Iterable[str]) -> str:
    """The one id in ``open_ids`` that starts with ``given``; ``given`` itself when it is not a prefix's shape."""
    if not _PREFIX.fullmatch(given):
        return given
    wanted = _hex(given)
    found = sorted({i for i in open_ids if _hex(i).startswith(wanted)})
    if len(found) == 1:
        return found[0]
    if not found:
        raise CliError(f"no open incident's id starts with {given!r}; give the whole id of a closed incident")
    shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
    raise CliError(f"{len(found)} open incidents' ids start with {given!r} ({shown}): give more of the id")


def _open_ids(api: ApiClient) -> Iterator[str]:
    for drill in ("false", "true"):
        cursor: str | None = None
        while True:
            body = api.get("/v1/incidents", status="open", drill=drill, limit=500, cursor=cursor)
            yield from (item["id"] for item in body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                break


def incident_id(api: ApiClient, given: str) -> str:
    """The whole id for ``given`` (see the module docstring). The open incidents are listed lazily: a whole id, or
    anything not shaped like a prefix, is passed on without a request."""
    return match_prefix(given, _open_ids(api))
