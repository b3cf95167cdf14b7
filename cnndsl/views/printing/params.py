"""A block's parameters, from the numbers its copies are written with.

The copies' holes are a table (a row per copy, a column per hole). A column whose numbers
never change stays written; columns that change together share a parameter, as a whole
multiple or a whole fraction of it (`x{f}`, `x{4*f}`, `dense {f//16}`); a width that is
always the same multiple of the channels entering it is written with `C` (`x{C*6}`);
anything else is a parameter of its own. A parameter most copies give one value gets it
as its default.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from .terms import CHANNELS, Hole, Param, Val

ROLES = "fmnksdg"  # parameters in this order: widths first, strides after kernels
NO_DEFAULT = "f"  # roles without defaults


def parameters(table: list[list[Hole]]):
    """Parameters for the holes of the occurrences (rows), or None if some cannot be
    shared. Returns (params, body values by hole position, argument values per row)."""
    groups: list[tuple[Param, int, list[Val]]] = []  # param, first column, its values
    body: dict[int, Val] = {}
    for j in range(len(table[0])):
        column = [row[j].val for row in table]
        role = table[0][j].role
        if all(v == column[0] for v in column) and column[0].param in (None, CHANNELS):
            continue  # written as it is
        if any(v.param is CHANNELS for v in column):
            return None  # `C` of a step inside cannot be passed from outside
        joined = _join(groups, column, role)
        if joined is not None:
            body[j] = joined
            continue
        ratio = _channels_ratio([row[j] for row in table])
        if ratio is not None:
            body[j] = Val(CHANNELS, ratio)
            continue
        param = Param(role)
        groups.append((param, j, column))
        body[j] = Val(param, Fraction(1))
    params, args = _rebase(groups, body, len(table))
    return params, body, args


def _join(groups, column: list[Val], role: str) -> Val | None:
    """`column` as a whole multiple (or fraction 1/k) of an existing parameter's."""
    for param, _, values in groups:
        if param.role != role:
            continue
        ratio = _ratio(column, values)
        if ratio is not None and (ratio.denominator == 1 or ratio.numerator == 1):
            return Val(param, ratio)
    return None


def _ratio(column: list[Val], base: list[Val]) -> Fraction | None:
    found = None
    for v, b in zip(column, base):
        if v.param is not b.param or b.coef == 0:
            return None
        r = v.coef / b.coef
        if found is not None and r != found:
            return None
        found = r
    return found


def _channels_ratio(column: list[Hole]) -> Fraction | None:
    """C*k (k whole) or C//2, when every hole knows its channels and the ratio is fixed."""
    if any(h.channels is None or h.val.param is not None for h in column):
        return None
    ratios = {h.val.coef / h.channels for h in column if h.channels}
    if len(ratios) != 1 or len(column) != sum(1 for h in column if h.channels):
        return None
    (ratio,) = ratios
    return ratio if ratio.denominator == 1 or ratio == Fraction(1, 2) else None


def _rebase(groups, body: dict[int, Val], rows: int):
    """Each parameter on the member most holes take as they are (`x{f}`, `x{4*f}`,
    `dense {f//16}`), defaults for the values most uses take, parameters with defaults
    last, widths first."""
    params: list[Param] = []
    values: list[list[Val]] = []
    for param, _, column in groups:
        coefs = [v.coef for v in body.values() if v.param is param]
        base = max(sorted(set(coefs)), key=lambda b: (_simple(coefs, b), coefs.count(b)))
        if base != 1 and _simple(coefs, base):
            for j, v in body.items():
                if v.param is param:
                    body[j] = Val(param, v.coef / base)
            column = [Val(v.param, v.coef * base) for v in column]
        param.default = _default(column, rows, param.role)
        params.append(param)
        values.append(column)
    order = sorted(range(len(params)), key=lambda k: (
        params[k].default is not None, ROLES.find(params[k].role), k))
    params = [params[k] for k in order]
    args = [[values[k][r] for k in order] for r in range(rows)]
    return params, args


def _simple(coefs: list[Fraction], base: Fraction) -> bool:
    """Every coefficient a whole multiple or a whole fraction (1/k) of `base`."""
    return all((c / base).denominator == 1 or (c / base).numerator == 1 for c in coefs)


def _default(column: list[Val], rows: int, role: str) -> int | None:
    """The value most uses give (more than half of them), or the only plain number
    given where the others pass on a parameter of their own block. Widths have none:
    `res(24)` says what `res` alone would hide."""
    if role in NO_DEFAULT:
        return None
    plain = Counter(v for v in column if v.param is None)
    if not plain:
        return None
    common, count = plain.most_common(1)[0]
    if common.coef.denominator != 1:
        return None
    if (count >= 2 and 2 * count > rows) or (len(plain) == 1 and count < rows):
        return int(common.coef)
    return None
