"""How the NumPy interpreter shares work between its threads: shares of the batch, or
tiles of one layer. Neither may change a result, and work started inside a worker
must never wait on the pool it runs in."""

import threading
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

import cnndsl
from cnndsl.backends.numpy import Interpreter, threads

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

NETWORK = """
input 10x10x3 -> conv 3 x8 same relu -> maxpool 2 -> conv 3 x8 same -> bn -> relu
  -> residual { conv 3 x8 same -> bn -> relu } -> avgpool 2 -> flatten -> dense 7 softmax
"""


@pytest.fixture
def two_workers(monkeypatch):
    """Two workers, even on a machine with one core."""
    if threads._set_local_threads() is None:
        pytest.skip("NumPy's BLAS has no per-thread thread count here")
    monkeypatch.setenv("CNNDSL_THREADS", "2")
    threads._pool.cache_clear()
    yield
    threads._pool.cache_clear()


@pytest.mark.parametrize("length, expected", [
    (1, [(0, 1)]),
    (2, [(0, 1), (1, 2)]),
    (3, [(0, 3)]),          # 2 + 1 is a third over an even split: tiles instead
    (4, [(0, 2), (2, 4)]),
    (7, [(0, 3), (3, 7)]),  # 4 is 14% over 3.5: still worth it
    (64, [(0, 32), (32, 64)]),
])
def test_batch_shares(two_workers, length, expected):
    assert [(s.start, s.stop) for s in threads.batch_shares(length)] == expected


def test_one_worker_never_shares(monkeypatch):
    monkeypatch.setenv("CNNDSL_THREADS", "1")
    assert threads.batch_shares(64) == [slice(0, 64)]


def test_work_started_in_a_worker_stays_with_the_workers(two_workers):
    """A tile split inside a share of the batch must not queue on the busy pool (with two
    workers both waiting on it, that would never finish): its tiles run in the workers,
    each exactly once."""
    seen: list[tuple[int, int, str]] = []

    def share(number):
        def inner(chunk):
            seen.extend((number, tile, threading.current_thread().name) for tile in chunk)

        threads.run_split(inner, range(8))
        threads.parallel_slices(lambda s: inner([-1]), 100)
        return threading.current_thread().name

    names = threads.map_shares(share, [0, 1])  # returning at all: nothing deadlocked
    assert all(n.startswith("cnndsl") for n in names)  # the shares ran in workers
    assert sorted((n, t) for n, t, _ in seen) == sorted(
        [(n, t) for n in (0, 1) for t in range(-1, 8)])
    assert all(name.startswith("cnndsl") for _, _, name in seen)


def test_a_worker_done_with_its_share_helps_the_other(two_workers):
    """The slow share's tiles are shared: some of them run in the other worker. The slow
    share's owner holds its first tile until another thread has run one of its tiles, so
    the test depends on no timing: without helping, it fails after a minute."""
    ran: dict[int, set[str]] = {0: set(), 1: set()}
    helped = threading.Event()
    owner: list[str] = []

    def share(number):
        if number == 0:
            owner.append(threading.current_thread().name)

        def tile(chunk):
            me = threading.current_thread().name
            ran[number].add(me)
            if number == 0 and me != owner[0]:
                helped.set()
            elif number == 0:
                helped.wait(timeout=60)

        threads.run_split(tile, range(10 if number == 0 else 1))
        return threading.current_thread().name

    names = threads.map_shares(share, [0, 1])
    assert len(set(names)) == 2, "the two shares ran in the same worker"
    assert helped.is_set() and ran[0] == set(names), "the slow share got no help"


def test_an_error_in_a_helped_tile_reaches_the_share_that_posted_it(two_workers):
    def share(number):
        def tile(chunk):
            time.sleep(0.01)
            if number == 0 and chunk == [7]:
                raise ZeroDivisionError("tile 7")

        threads.run_split(tile, range(10 if number == 0 else 1))
        return number

    with pytest.raises(ZeroDivisionError, match="tile 7"):
        threads.map_shares(share, [0, 1])
    assert threads.map_shares(lambda n: n, [0, 1]) == [0, 1]  # and the pool still works


@pytest.mark.parametrize("batch", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shared_batches_equal_the_plain_run(two_workers, batch, dtype):
    graph = cnndsl.compile_text(NETWORK)
    weights = cnndsl.backends.weights.init_weights(graph, 5)
    rng = np.random.default_rng(batch)
    for key in weights:
        if key.endswith(("/bias", "/beta", "/moving_mean")):
            weights[key] = rng.normal(0, 0.3, weights[key].shape)
    x = rng.standard_normal((batch, *graph.input.shape))
    plain = Interpreter(graph, weights, np.float64, keep=True).run(x)
    fast = Interpreter(graph, weights, dtype)
    calls = []
    real = threads.map_shares
    with mock.patch("cnndsl.backends.numpy.interpreter.map_shares",
                    side_effect=lambda task, shares: calls.append(shares) or real(task, shares)):
        for _ in range(2):  # the second run takes its buffers from each share's pool
            got = fast.run(x.astype(dtype))
            assert got.dtype == dtype and got.shape == plain.shape
            tolerance = 1e-5 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(got, plain, rtol=tolerance, atol=tolerance)
    assert bool(calls) == (len(threads.batch_shares(batch)) > 1)
    fast.split_batch = False
    np.testing.assert_allclose(fast.run(x.astype(dtype)), plain, rtol=tolerance,
                               atol=tolerance)


def test_results_of_shared_runs_are_not_recycled(two_workers):
    net = cnndsl.parse("input 8x8x2 -> conv 3 x4 same relu -> maxpool 2 -> dense 3")
    net.init_weights(3)
    x = np.random.default_rng(0).standard_normal((4, 8, 8, 2)).astype(np.float32)
    first = net.run(x)
    kept = first.copy()
    net.run(x * 2)
    np.testing.assert_array_equal(first, kept)
