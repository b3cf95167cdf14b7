"""The printer on graphs that need named tensors: repeated cells folded into `def` blocks
with tensor parameters (`def cell(@prev, f)`), and no line wider than 96 columns.

An imported graph carries no source text (every span is NOWHERE), so the printer chooses
its own layout; `imported` makes such a graph from a hand-written text. The expected text
of a small NASNet-style network is written out by hand; random version-2 networks must
read back as themselves; and small Keras models of repeated two-input cells must import
with Keras's counts and outputs (test_import.py's checks), their cells as one block.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import given
from test_differential_v2 import v2_networks

from cnndsl import compile_text
from cnndsl.errors import NOWHERE
from cnndsl.graph.ir import Graph
from cnndsl.graph.structure import postdominators
from cnndsl.views.printing.check import match
from cnndsl.views.printing.printer import to_text


def imported(text: str) -> Graph:
    """The graph `text` makes, as an importer would give it: no spans."""
    graph = compile_text(text, "t")
    return replace(graph, nodes=tuple(replace(n, span=NOWHERE) for n in graph.nodes))


def reads_back(graph: Graph, printed: str) -> None:
    match(graph, compile_text(printed, "t"))  # raises Mismatch if not the same graph


def test_postdominators_of_a_diamond():
    """conv_1 forks into conv_2 and relu_1, which meet at add_1: every path from the
    fork, and from each branch, passes through the add; the last layer has none."""
    graph = compile_text("input 4x4x2 -> conv 1 x2 -> add { conv 1 x2 | relu } -> relu", "t")
    names = [n.name for n in graph.nodes]
    after = {names[v]: (names[d] if d >= 0 else None)
             for v, d in enumerate(postdominators(graph))}
    assert after == {"input": "conv_1", "conv_1": "add_1", "conv_2": "add_1",
                     "relu_1": "add_1", "add_1": "relu_2", "relu_2": None}


# Four cells, each reading its input and the output of the cell before it (written with
# other names than the printer's, so nothing is copied from the source).
NASNET_LIKE = """
def unit(@earlier, w) =
     relu -> conv 1 x{w} bias=false as here
  -> @earlier -> relu -> conv 1 x{w} bias=false as back
  -> concat { @back | add { @here -> sepconv 3 x{w} same | @back }
            | add { @back -> avgpool 3/1 same | @here } }

input 8x8x3 -> conv 3 x8 same as s0 -> conv 3 x8 same as s1
  -> unit(@s0, 8) as c1 -> unit(@s1, 8) as c2 -> unit(@c1, 16) as c3 -> unit(@c2, 16)
  -> gap -> dense 10
"""

NASNET_LIKE_PRINTED = """\
def cell(@prev, f) =
    relu -> conv 1 x{f} bias=false as a
    -> @prev -> relu -> conv 1 x{f} bias=false as b
    -> concat {
         @b
       | add { @a -> sepconv 3 x{f} same | @b }
       | add { @b -> avgpool 3/1 same | @a }
       }

input 8x8x3
  -> conv 3 x8 same as conv_1                                   # 8x8x8
  -> conv 3 x8 same as conv_2                                   # 8x8x8
  -> cell(@conv_1, 8) as concat_1                               # 8x8x24
  -> cell(@conv_2, 8) as concat_2                               # 8x8x24
  -> cell(@concat_1, 16)                                        # 8x8x48
  -> cell(@concat_2, 16)                                        # 8x8x48
  -> gap -> dense 10                                            # 10
"""


def test_repeated_two_input_cells_become_one_block():
    graph = imported(NASNET_LIKE)
    printed = to_text(graph)
    assert printed == NASNET_LIKE_PRINTED
    reads_back(graph, printed)


def test_cells_that_differ_in_structure_are_not_one_block():
    """The third cell adds a max pool: two blocks would not pay, so the two alike cells
    are a block and the odd one is written out."""
    odd = NASNET_LIKE.replace("-> unit(@c1, 16) as c3",
                              "-> unit(@c1, 16) -> maxpool 3/1 same as c3")
    graph = imported(odd)
    printed = to_text(graph)
    reads_back(graph, printed)
    assert printed.count("def ") == 1 and "maxpool 3/1 same" in printed


UNIT = "{op} {{ conv 1 x{w} -> bn -> relu -> conv 3 x{w} same -> bn | conv 1 x{w} }} -> relu"


def test_merges_of_other_operations_are_not_one_block():
    """Issue 20: an `add` and a `mul` of the same branches are two different steps, so
    neither a repetition nor a block may write one for the other (the folded text would
    read back as a network of adds only). Alternating add, mul, add, mul: the pair is
    the block, each merge with its own operation and its own width."""
    graph = imported("input 8x8x4 -> " + " -> ".join(
        UNIT.format(op=op, w=w) for op, w in (("add", 8), ("mul", 16), ("add", 24),
                                              ("mul", 32))))
    printed = to_text(graph)
    assert printed == """\
def block(f, f2) = add { conv 1 x{f} -> bn -> relu -> conv 3 x{f} same -> bn | conv 1 x{f} }
    -> relu -> mul { conv 1 x{f2} -> bn -> relu -> conv 3 x{f2} same -> bn | conv 1 x{f2} }
    -> relu

input 8x8x4
  -> block(8, 16)                                               # 8x8x16
  -> block(24, 32)                                              # 8x8x32
"""
    reads_back(graph, printed)
    # The same merge twice but for its operation is no `( ... ) * 2`.
    text = ("input 8x8x4 -> add { conv 1 x4 | conv 3 x4 same } -> relu"
            " -> mul { conv 1 x4 | conv 3 x4 same } -> relu -> gap")
    graph = imported(text)
    printed = to_text(graph)
    assert printed == (
        "input 8x8x4\n"
        "  -> add { conv 1 x4 | conv 3 x4 same } -> relu -> mul { conv 1 x4 | conv 3 x4 same }"
        " -> relu  # 8x8x4\n"
        "  -> gap                                                        # 4\n")
    reads_back(graph, printed)


def test_long_statements_are_wrapped():
    """A merge of named tensors too long for a line opens its braces, branch a line."""
    text = ("input 8x8x3 -> conv 3 x8 same as a -> conv 3 x8 same as b\n"
            "add { @a -> sepconv 3 x8 same -> bn momentum=0.9997 -> relu -> sepconv 3 x8 same"
            " -> bn momentum=0.9997 | @b -> sepconv 5 x8 same -> bn momentum=0.9997 -> relu"
            " -> sepconv 5 x8 same } as m\n"
            "concat { @a | @m } -> gap -> dense 2")
    graph = imported(text)
    printed = to_text(graph)
    reads_back(graph, printed)
    assert max(len(line) for line in printed.splitlines()) <= 96, printed


@given(v2_networks())
def test_random_v2_networks_read_back_when_imported(drawn):
    """Without source spans the printer folds cells freely; the text must still make the
    same graph (layers, shapes, wiring)."""
    text, _ = drawn
    graph = imported(text)
    reads_back(graph, to_text(graph))


# ---- against Keras ------------------------------------------------------------------------

def nasnet_cells(keras):
    """Five NASNet-style cells (each reads its input and the cell before it), widths 8, 8,
    16, 16, 16, a stem of two convs, a classifier head."""
    L = keras.layers
    x = keras.Input((8, 8, 3), name="image")
    s0 = L.BatchNormalization()(L.Conv2D(8, 3, padding="same", use_bias=False)(x))
    s1 = L.Conv2D(8, 3, padding="same")(s0)

    def cell(h, p, f):
        h = L.BatchNormalization()(L.Conv2D(f, 1, use_bias=False)(L.ReLU()(h)))
        p = L.Conv2D(f, 1, use_bias=False)(L.ReLU()(p))
        a = L.Add()([L.SeparableConv2D(f, 3, padding="same")(h), p])
        b = L.Add()([L.AveragePooling2D(3, strides=1, padding="same")(p), h])
        return L.Concatenate()([p, a, b])

    c1 = cell(s1, s0, 8)
    c2 = cell(c1, s1, 8)
    c3 = cell(c2, c1, 16)
    c4 = cell(c3, c2, 16)
    c5 = cell(c4, c3, 16)
    out = L.Dense(4, activation="softmax")(L.GlobalAveragePooling2D()(L.ReLU()(c5)))
    return keras.Model(x, out, name="nasnet_cells")


@pytest.fixture(scope="module")
def keras():
    from test_import import NO_KERAS

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # see tests/test_differential.py
    return pytest.importorskip("keras", reason=NO_KERAS)


def test_keras_cells_import_as_one_block(keras, tmp_path):
    from test_import import Imported, check_counts_and_outputs, randomised

    made = Imported(randomised(nasnet_cells(keras)), tmp_path)
    check_counts_and_outputs(keras, made)
    text = made.text
    assert "def cell(@prev, f) =" in text, text
    assert text.count("cell(@") == 5 + 1, text  # five uses and the definition
    assert max(len(line) for line in text.splitlines()) <= 96, text
