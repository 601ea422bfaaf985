"""The whole bot in a terminal: interactive on a TTY, scripted otherwise."""

from adapters.console.session import ConsoleSession

__all__ = ["ConsoleSession"]
