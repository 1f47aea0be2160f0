"""One small registry: register by name, look up by name, unknown names list the choices."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ganbench.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> entry mapping that refuses duplicates and explains unknown names.

    ``kind`` is the params key the names come from (e.g. ``"lucic.models"``), so a lookup
    failure reads as a config error naming that key and the registered choices.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REG.register("name")`` adds the decorated object under ``name``."""

        def add(entry: T) -> T:
            self.add(name, entry)
            return entry

        return add

    def add(self, name: str, entry: T) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind}: names must be non-empty strings, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind}: '{name}' is already registered")
        self._entries[name] = entry

    def get(self, name: str, key: str | None = None) -> T:
        """Return the entry for ``name``; ``key`` names the params key for the error message."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ConfigError(key or self.kind, name, "one of " + ", ".join(self.names())) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
