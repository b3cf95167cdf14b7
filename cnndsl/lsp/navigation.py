"""Go to definition and find references, for blocks and `@NAME`s.

    def stem = conv 7/2 x64 same -> bn -> relu       <- `stem` is defined here
    input 224x224x3 -> stem as s -> ... -> @s         <- `stem` used, `s` bound, `@s` used

From a block's use, its `def`; from `@NAME` (or the NAME after `as`), where the name is
bound in its scope: by `as NAME`, by `input ... as NAME`, or as a block's tensor
parameter. References are every occurrence of the same name in the same scope (blocks
have one scope, the file).
"""

from __future__ import annotations

from .document import Analysis

Region = tuple[int, int]


def definition(analysis: Analysis, offset: int) -> Region | None:
    """Where the name at `offset` is defined or bound, or None."""
    names = analysis.names
    found = names.at(offset) if names is not None else None
    return names.definition(found) if names is not None and found is not None else None


def references(analysis: Analysis, offset: int, declaration: bool = True) -> list[Region]:
    """Every occurrence of the name at `offset`, its definition if `declaration`."""
    names = analysis.names
    found = names.at(offset) if names is not None else None
    if names is None or found is None:
        return []
    return names.references(found, declaration)
