"""Alertmanager matcher strings (``service=~"checkout.*"``) read into the object form of a route matcher.

People who write Alertmanager routes write matchers as strings; accepting the same spelling here lets them
copy a matcher across without translating it. The grammar follows Alertmanager's: a label name (bare, or in
double quotes as UTF-8 matchers allow), one of ``=``, ``!=``, ``=~``, ``!~``, and a value that is either
double-quoted (with ``\\"``, ``\\\\`` and ``\\n`` escapes) or bare up to the end of the string.
"""

from __future__ import annotations

import re

MATCHER_PATTERN = (
    r'^\s*(?:[A-Za-z_][A-Za-z0-9_.:-]*|"(?:[^"\\]|\\.)+")\s*(?:=~|!~|!=|=)\s*(?:"(?:[^"\\]|\\.)*"\s*|[^"].*|)$'
)
_SHAPE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_.:-]*|"(?:[^"\\]|\\.)+")\s*(=~|!~|!=|=)\s*(.*?)\s*$', re.DOTALL)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}
SYNTAX_HELP = 'expected label="value", label!="value", label=~"regex" or label!~"regex"'


def _unquote(text: str) -> str:
    """The content of a double-quoted string; raises ValueError on a bad escape or a missing quote."""
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise ValueError("unterminated quoted string")
    out: list[str] = []
    chars = iter(text[1:-1])
    for char in chars:
        if char == '"':
            raise ValueError('unescaped " inside a quoted value')
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, None)
        if escaped not in _ESCAPES:
            raise ValueError(f"invalid escape sequence \\{escaped or ''}")
        out.append(_ESCAPES[escaped])
    return "".join(out)


def parse_matcher(text: str) -> dict[str, str]:
    """``{"label", "op", "value"}`` of one Alertmanager matcher string; ValueError says what is wrong."""
    shape = _SHAPE.match(text)
    if shape is None:
        raise ValueError(f"invalid matcher {text!r}: {SYNTAX_HELP}")
    label, op, value = shape.groups()
    try:
        label = _unquote(label) if label.startswith('"') else label
        value = _unquote(value) if value.startswith('"') else value
    except ValueError as exc:
        raise ValueError(f"invalid matcher {text!r}: {exc}") from exc
    return {"label": label, "op": op, "value": value}
