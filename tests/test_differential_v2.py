"""Language version 2 in the differential tests: named tensors, several inputs and outputs.

Hypothesis draws programs of one or two inputs whose chains (from test_differential's
strategy, every step kind) are bound to names, then statements that start from those
names: heads that go on from a tensor, merges of named tensors, jumps to another tensor
in the middle of a chain, blocks with a tensor parameter, and an `output` list. Each
program is checked as version-1 programs are (`check_backends_agree`): the NumPy
interpreter against Keras, layer by layer and output by output, onnxruntime against
NumPy output by output, and the shapes this strategy tracked against cnndsl's.
"""

from __future__ import annotations

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from test_differential import PROFILE, Ctx, _dims, chain, check_backends_agree

from cnndsl import compile_text

Shape = tuple[int, ...]


def _input_shape(draw) -> Shape:
    kind = draw(st.sampled_from(("2-D", "vector", "1-D", "2-D")))
    if kind == "vector":
        return (draw(st.integers(1, 12)),)
    if kind == "1-D":
        return (draw(st.integers(3, 12)), draw(st.integers(1, 4)))
    return (draw(st.integers(3, 10)), draw(st.integers(3, 10)), draw(st.integers(1, 3)))


def _flat(name: str, shape: Shape) -> tuple[str, int]:
    """A branch that reads `@name` as a vector, and its length."""
    if len(shape) == 1:
        return f"@{name}", shape[0]
    size = 1
    for d in shape:
        size *= d
    return f"@{name} -> flatten", size


@st.composite
def v2_networks(draw):
    """(program text, the output shapes the strategy expects, in written order)."""
    ctx = Ctx(budget=draw(st.integers(2, 8)))
    statements: list[str] = []
    tensors: dict[str, Shape] = {}
    blocks: dict[str, str] = {}

    def bind(shape: Shape) -> str:
        name = f"t{len(tensors)}"
        tensors[name] = shape
        return name

    for i in range(draw(st.integers(1, 2))):
        s = _input_shape(draw)
        steps, out = chain(draw, s, ctx, max_steps=3, keep_rank=draw(st.booleans()))
        name = bind(out)
        statements.append(f"input {_dims(s)} as in{i} " + " ".join(f"-> {t}" for t in steps)
                          + f" as {name}")
    for _ in range(draw(st.integers(0, 3))):
        names = list(tensors)
        how = draw(st.sampled_from(("head", "merge", "concat", "jump", "block")))
        a = draw(st.sampled_from(names))
        b = draw(st.sampled_from(names))
        same = [n for n in names if tensors[n] == tensors[a]]
        if how == "merge" and len(same) > 1:
            b = draw(st.sampled_from(same))
            op = draw(st.sampled_from(("add", "mul", "avg", "max")))
            statements.append(f"{op} {{ @{a} | @{b} }} as {bind(tensors[a])}")
        elif how == "concat":
            (left, n), (right, m) = _flat(a, tensors[a]), _flat(b, tensors[b])
            statements.append(f"concat {{ {left} | {right} }} as {bind((n + m,))}")
        elif how == "block" and len(same) > 1:
            b = draw(st.sampled_from(same))
            block = blocks.setdefault("mix", "def mix(@other) = add { id | @other -> relu }")
            assert block
            statements.append(f"@{a} -> mix(@{b}) as {bind(tensors[a])}")
        elif how == "jump":
            # `-> @b` drops what came before it: a warning, and a layer left out.
            steps, out = chain(draw, tensors[b], ctx, max_steps=2, keep_rank=True)
            statements.append(f"@{a} -> relu -> @{b} " + " ".join(f"-> {t}" for t in steps)
                              + f" as {bind(out)}")
        else:
            steps, out = chain(draw, tensors[a], ctx, max_steps=3,
                               keep_rank=draw(st.booleans()))
            statements.append(f"@{a} " + " ".join(f"-> {t}" for t in steps)
                              + f" as {bind(out)}")
    names = list(tensors)
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        ending = ["output " + ", ".join(f"@{n}" for n in chosen)]
    else:
        # Without `output`, the last statement's result is the one output.
        chosen, ending = [names[-1]], []
    text = "\n".join([*ctx.defs.values(), *blocks.values(), *statements, *ending])
    return text, [tensors[n] for n in chosen]


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")
@settings(PROFILE, max_examples=150)
@given(v2_networks(), st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_backends_agree_on_random_v2_networks(network, seed, batch):
    spec, shapes = network
    note(f"spec:\n{spec}")
    graph = compile_text(spec, name="differential")
    assert [n.shape for n in graph.output_nodes] == shapes, \
        "the strategy and cnndsl disagree on the outputs' shapes"
    check_backends_agree(spec, seed, batch)


def test_strategy_draws_every_v2_construct():
    """Several inputs and outputs, merges of named tensors, jumps and tensor parameters
    are all drawn (no Keras needed)."""
    seen: set[str] = set()

    @settings(PROFILE, max_examples=400, derandomize=True, database=None)
    @given(v2_networks())
    def draw_one(network):
        spec, shapes = network
        graph = compile_text(spec, name="differential")
        assert [n.shape for n in graph.output_nodes] == shapes, spec
        if len(graph.inputs) > 1:
            seen.add("several inputs")
        if len(graph.outputs) > 1:
            seen.add("several outputs")
        for word in ("mix(@", "-> @", "{ @", "concat { @", "output @"):
            if word in spec:
                seen.add(word)
        if any("dropped" in w.message for w in graph.warnings):
            seen.add("a dropped result")

    draw_one()
    wanted = {"several inputs", "several outputs", "mix(@", "-> @", "{ @", "concat { @",
              "output @", "a dropped result"}
    assert wanted <= seen, f"never drawn: {sorted(wanted - seen)}"
