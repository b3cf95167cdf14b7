"""The server's settings, as a client sends them.

One setting so far: `cnndsl.inlayHints.shapes`, each step's output shape at the end of
its line, off by default. A client gives it at start in `initializationOptions` (the
settings themselves) and later in `workspace/didChangeConfiguration` (under `cnndsl`);
whatever else is sent, of whatever type, is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    """What the client asked for.

    >>> s = Settings()
    >>> s.shape_hints
    False
    >>> s.initialized({"inlayHints": {"shapes": True}}).shape_hints
    True
    >>> s.configured({"cnndsl": {"inlayHints": {"shapes": False}}}).shape_hints
    False
    >>> s.configured({"cnndsl": "junk"}).configured(None).shape_hints
    False
    """

    shape_hints: bool = False

    def initialized(self, options: object) -> Settings:
        """Read the settings from `initializationOptions`."""
        hints = _get(options, "inlayHints")
        shapes = _get(hints, "shapes")
        if isinstance(shapes, bool):
            self.shape_hints = shapes
        return self

    def configured(self, settings: object) -> Settings:
        """Read the settings from `workspace/didChangeConfiguration`'s `settings`."""
        section = _get(settings, "cnndsl")
        return self.initialized(section) if section is not None else self


def _get(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None
