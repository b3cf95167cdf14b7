"""Backends: ways to run or emit a typed network (`numpy`: run it; `keras`: build it)."""
