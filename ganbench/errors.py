"""The one family of errors for bad input: each message names the key, the value and what is allowed.

Stage scripts catch :class:`UserError` at their boundary, print the message and exit non-zero;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: params, data files, weights. The message is shown as is."""


class ConfigError(UserError):
    """A params key that is unknown, mistyped or out of range."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"params key '{key}': got {value!r}; allowed: {allowed}")


class DataError(UserError):
    """Raw or prepared data that is missing or corrupt."""
