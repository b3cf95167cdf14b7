"""`cnndsl fmt` on networks Hypothesis draws: the differential tests' strategies (language
versions 1, 2 and 3: blocks, merges, repeats, named tensors, several inputs and outputs,
every kind of step), each written with random whitespace and comments at random token
boundaries. Formatting gives the same graph, keeps every comment, and is idempotent.

The strategies live in the differential tests, which need Keras (they build models); the
formatter itself does not.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

pytest.importorskip("keras", reason="the drawn networks come from the differential tests, "
                    "which need the keras extra")
from scrambled import comments_of, scrambled, signature  # noqa: E402
from test_differential import networks  # noqa: E402
from test_differential_v2 import v2_networks  # noqa: E402
from test_differential_v3 import v3_networks  # noqa: E402

from cnndsl import CnnError, compile_text  # noqa: E402
from cnndsl.formatting import format_text  # noqa: E402

THOROUGH = os.environ.get("CNNDSL_HYPOTHESIS_PROFILE") == "thorough"
DRAWN = st.one_of(networks, v2_networks().map(lambda pair: pair[0]),
                  v3_networks().map(lambda pair: pair[0]))


@settings(max_examples=1000 if THOROUGH else 60,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=DRAWN, seed=st.integers(0, 2**32 - 1),
       density=st.sampled_from([0.0, 0.1, 0.5, 1.0]))
def test_drawn_networks_format_to_the_same_graph(spec, seed, density):
    try:
        graph = compile_text(spec)
    except CnnError:  # a v3 network some backend refuses may also be refused here
        return
    bad, comments = scrambled(spec, seed, density)
    note(bad)
    out = format_text(bad)
    assert format_text(out) == out
    assert signature(compile_text(out)) == signature(graph)
    assert sorted(comments_of(out)) == sorted(comments)
    assert format_text(spec) == format_text(format_text(spec))
