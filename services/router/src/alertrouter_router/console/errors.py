"""What the console answers when something cannot be shown or done: an HTML page with the reason, never JSON."""

from __future__ import annotations


class ConsoleError(Exception):
    """An error page with this status and message (rendered by ``rendering.error_page``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page, and back to ``next`` afterwards."""

    def __init__(self, next_path: str, message: str = "") -> None:
        super().__init__(message)
        self.next_path = next_path
        self.message = message
