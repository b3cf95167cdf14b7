"""The one exception every importer raises for a model cnndsl cannot express."""

from __future__ import annotations


class Unsupported(Exception):
    """A model cnndsl cannot express, said in the model's own terms (its layer or node,
    class or operator); `hint` says what to do instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint
