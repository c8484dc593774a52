"""Text shaping shared by every renderer: safe truncation, secret masking, SMS encoding arithmetic.

Truncation works on user-perceived characters (a base character with its combining marks, emoji ZWJ sequences,
flags), so a message is never cut in the middle of one, and SMS length is counted the way carriers count it:
GSM-7 septets (extension characters cost two) or UCS-2 code units (emoji outside the BMP cost two).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping

from alertrouter_shared.events import PageShift

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
_GSM7 = GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67

SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|auth(orization)?|credential|private[_-]?key|cookie|session",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(r"^(xox[abprs]-|sk_live_|AKIA[0-9A-Z]{16}|ghp_|Bearer\s)", re.IGNORECASE)
MASKED = "[redacted]"

_ZWJ = "\u200d"


def _extends_cluster(prev: str, char: str) -> bool:
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char == _ZWJ
        or prev == _ZWJ
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag sequences (subdivision flags)
    )


def graphemes(text: str) -> Iterator[str]:
    """Approximate extended grapheme clusters: enough to never split a character a reader sees as one."""
    cluster = ""
    regional_run = 0
    for char in text:
        is_regional = 0x1F1E6 <= ord(char) <= 0x1F1FF
        pairs_flag = is_regional and regional_run % 2 == 1
        if cluster and not pairs_flag and not _extends_cluster(cluster[-1], char):
            yield cluster
            cluster = ""
        cluster += char
        regional_run = regional_run + 1 if is_regional else 0
    if cluster:
        yield cluster


def truncate(text: str, limit: int, *, ellipsis: str = "…", cost: Callable[[str], int] = len) -> str:
    """Cut ``text`` so that ``cost(result) <= limit``, on a character boundary, marking the cut with ``ellipsis``."""
    if cost(text) <= limit:
        return text
    budget = limit - cost(ellipsis)
    if budget <= 0:
        return ""
    out: list[str] = []
    used = 0
    for cluster in graphemes(text):
        size = cost(cluster)
        if used + size > budget:
            break
        out.append(cluster)
        used += size
    return "".join(out).rstrip() + ellipsis


def is_gsm7(text: str) -> bool:
    return _GSM7.issuperset(text)  # set operations in C: these run on every page's text


def gsm7_septets(text: str) -> int:
    return len(text) + sum(text.count(c) for c in GSM7_EXTENSION)  # extension characters take two


def ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def sms_segments(text: str) -> int:
    """How many SMS segments a carrier bills for ``text``."""
    if is_gsm7(text):
        size, single, multi = gsm7_septets(text), GSM7_SINGLE, GSM7_MULTI
    else:
        size, single, multi = ucs2_units(text), UCS2_SINGLE, UCS2_MULTI
    if size <= single:
        return 1
    return -(-size // multi)


def mask_secret_labels(labels: Mapping[str, str], *, value_limit: int) -> dict[str, str]:
    """Labels fit for a message: secrets redacted, long values truncated."""
    shaped: dict[str, str] = {}
    for key, value in sorted(labels.items()):
        if SECRET_KEY.search(key) or SECRET_VALUE.search(value):
            shaped[key] = MASKED
        else:
            shaped[key] = truncate(value, value_limit)
    return shaped


DRILL_MARK = "DRILL"


def drill_prefix(drill: bool) -> str:
    """What every message of a drill starts with, so nobody takes a rehearsal for an outage (or the reverse)."""
    return f"[{DRILL_MARK}] " if drill else ""


def shift_tag(shift: PageShift) -> str:
    """The heading of a shift message: a stand-down titled "ON CALL" told a person the opposite of its text at a
    glance (an SMS preview, a mail subject cut short)."""
    return "SHIFT CHANGED" if shift.change else "ON CALL"


def incident_ref(incident_id: str) -> str:
    """A short reference a human can read out on the phone; the full id stays in links and headers."""
    compact = incident_id.replace("-", "")
    return compact[:8] if len(compact) > 10 else incident_id
