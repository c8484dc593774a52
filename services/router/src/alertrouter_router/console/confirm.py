"""Asking before an action that stops or starts paging (resolve, escalate now, ending a maintenance window).

A tap on a phone at night can miss: such a button only leads to a page asking to confirm, whose form posts with
``confirmed=yes``. A post without it (a page loaded before this existed, a hand-written form) is not acted on
but answered with that same question. Without JavaScript it works the same: it is a page and a form.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response

from alertrouter_router.console.rendering import render
from alertrouter_router.console.session import Session

CONFIRMED = "confirmed"


@dataclass(frozen=True)
class Question:
    """What the confirm page asks, and what it says will follow."""

    title: str  # "Resolve this incident?"
    consequence: str  # what changes for paging, in plain words
    button: str  # the confirming button, named like the one tapped first


def confirmed(form: dict[str, str]) -> bool:
    return form.get(CONFIRMED) == "yes"


def ask(
    request: Request,
    session: Session,
    question: Question,
    *,
    subject: str,
    action: str,
    back: str,
    moot: str = "",
    hidden: dict[str, str] | None = None,
) -> Response:
    """The confirm page: ``subject`` names what is acted on; ``moot`` says why there is nothing left to confirm
    (resolved meanwhile, a window already over), and then no button is offered; ``hidden``: what the form posts
    with the confirmation (the state it was asked in)."""
    return render(
        request,
        "confirm.html",
        session,
        question=question,
        subject=subject,
        action=action,
        back=back,
        moot=moot,
        confirmed_field=CONFIRMED,
        hidden=hidden or {},
    )
