"""The NumPy backend: run a typed network forward with nothing but NumPy."""

from .interpreter import Interpreter

__all__ = ["Interpreter"]
