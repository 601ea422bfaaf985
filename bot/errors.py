"""Errors a user caused. Each message is one sentence an adapter shows privately."""

from __future__ import annotations


class UserError(Exception):
    """Base class: the message is safe and meant for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownItem(UserError):
    def __init__(self, number: int) -> None:
        super().__init__(f"There is no item #{number} on this board.")
        self.number = number


class BadItemNumber(UserError):
    def __init__(self, token: str) -> None:
        super().__init__(f"“{token}” is not an item number: write it like #12.")


class NotAllowed(UserError):
    def __init__(self, action: str) -> None:
        super().__init__(f"Only board admins can {action}.")


class BadInput(UserError):
    pass


class MergeRefused(UserError):
    pass


class TextTooLong(UserError):
    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"Feedback is limited to {limit:,} characters; yours has {length:,}. "
            "Shorten it and try again."
        )
