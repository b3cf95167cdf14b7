"""`cnndsl train --strategy multiworker`: TF_CONFIG checked, the cluster's meeting bounded.

- TF_CONFIG's mistakes (issue 19, item 9: an index outside the cluster, text that is not
  JSON, wrong types, missing keys, a `ps` job) are exit 1 with a message and a hint,
  before TensorFlow is imported; they were exit 3, exit 0 training as worker 0, or a
  wait without end.
- A task that never comes (item 2) is an error after --cluster-timeout, naming it; while
  the command waits, SIGTERM ends it with 143 (it waited forever, SIGTERM ignored).
- The meeting itself, in threads; `watchdog.bounded`, which guards TensorFlow's own
  meeting, in a plain Python process: a signal, the deadline, the block left.

The real two-worker training is in tests/test_train.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from outcomes import free_ports, no_tensorflow

from cnndsl.cli import main
from cnndsl.support.files import FileError
from cnndsl.training import watchdog
from cnndsl.training.cluster import Cluster, read
from cnndsl.training.meeting import meet

ROOT = Path(__file__).resolve().parent.parent
NET = "input 8x8x1 -> conv 3x3 x4 same relu -> flatten -> dense 10 softmax\n"


@pytest.fixture
def work(tmp_path) -> Path:
    """A tiny network and 20 examples for it."""
    (tmp_path / "net.cnn").write_text(NET)
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 8, 8, 1), np.float32),
             y=np.arange(20) % 10)
    return tmp_path


def tf_config(workers: list[str], index: object = 0, **task) -> str:
    return json.dumps({"cluster": {"worker": workers},
                       "task": {"type": "worker", "index": index, **task}})


W = ["127.0.0.1:40001"]
MISTAKES = [  # TF_CONFIG -> the error's message (issue 19, item 9)
    (tf_config(W, 5), "task.index is 5 but cluster.worker lists 1 task (index 0 to 0)"),
    (tf_config(W, -1), "task.index is -1 but cluster.worker lists 1 task"),
    (tf_config(W, "0"), 'task.index must be a whole number, got "0"'),
    (tf_config(W, True), "task.index must be a whole number, got true"),
    (tf_config(W, 0.5), "task.index must be a whole number, got 0.5"),
    (json.dumps({"cluster": {"worker": W}, "task": {"type": "worker"}}),
     "task.index must be a whole number, got missing"),
    (json.dumps({"cluster": {"worker": W}, "task": {"index": 0}}), "task has no type"),
    (tf_config(W, type="chief"), "task.type is chief but the cluster has no chief"),
    (tf_config(W, type="ps"), 'task has type "ps"'),
    (tf_config([1234]), 'cluster.worker must be a list of "host:port" strings, got [1234]'),
    (tf_config("127.0.0.1:1"), "cluster.worker must be a list of"),  # type: ignore[arg-type]
    (tf_config(["nocolon"]), 'cluster.worker has "nocolon", not a host:port'),
    (tf_config(["h:99999"]), 'cluster.worker has "h:99999", not a host:port'),
    (tf_config([]), "the cluster lists no workers"),
    (tf_config(W * 2), "worker 0 and worker 1 are both at 127.0.0.1:40001"),
    (json.dumps({"cluster": {"worker": W, "ps": ["127.0.0.1:40002"]},
                 "task": {"type": "worker", "index": 0}}), "the cluster has parameter servers"),
    (json.dumps({"cluster": {"workers": W}, "task": {"type": "worker", "index": 0}}),
     "the cluster has a job `workers`"),
    (json.dumps({"cluster": {"worker": W}}), "must be a JSON object with `cluster`"),
    (json.dumps([1, 2]), "must be a JSON object with `cluster`"),
    ("not json", "is not JSON: Expecting value: line 1 column 1 (char 0)"),
    ("", "--strategy multiworker needs the environment variable TF_CONFIG"),
]


@pytest.mark.parametrize("config, message", MISTAKES, ids=[m for _, m in MISTAKES])
def test_tf_config_mistakes_are_said_before_tensorflow(work, capsys, monkeypatch, config,
                                                       message):
    monkeypatch.setenv("TF_CONFIG", config)
    with no_tensorflow():
        status = main(["train", str(work / "net.cnn"), "--data", str(work / "d.npz"), "-o",
                       str(work / "o.keras"), "--strategy", "multiworker"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert err.startswith(f"TF_CONFIG: error: {message}"), err
    assert "\nhint: " in err
    assert sorted(p.name for p in work.iterdir()) == ["d.npz", "net.cnn"]


def test_tf_config_read_by_hand():
    config = {"cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"], "evaluator": ["d:4"]},
              "task": {"type": "worker", "index": 1}}
    cluster = read({"TF_CONFIG": json.dumps(config)})
    assert (cluster.task, cluster.address, cluster.port, cluster.chief) == \
        ("worker 1", "c:3", 3, False)
    assert cluster.peers() == {"chief 0": "a:1", "worker 0": "b:2"}  # not the evaluator
    config["task"] = {"type": "chief", "index": 0}
    assert read({"TF_CONFIG": json.dumps(config)}).chief


# ---- the meeting ------------------------------------------------------------------------------

def cluster_of(ports: list[int], index: int) -> Cluster:
    return Cluster({"worker": [f"127.0.0.1:{p}" for p in ports]}, "worker", index)


def test_tasks_that_start_apart_meet():
    """Three tasks, started 0.3 s apart, all leave the meeting."""
    ports = free_ports(3)
    ended: dict[int, object] = {}

    def task(i: int) -> None:
        time.sleep(0.3 * i)
        try:
            meet(cluster_of(ports, i), 60, lambda line: None)
            ended[i] = "met"
        except FileError as e:
            ended[i] = e.render()

    threads = [threading.Thread(target=task, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert ended == {0: "met", 1: "met", 2: "met"}


def test_a_task_of_another_cluster_is_refused():
    ports = free_ports(2)
    other = Cluster({"worker": [f"127.0.0.1:{p}" for p in ports], "chief": ["x:1"]},
                    "worker", 1)
    threading.Thread(target=lambda: _quietly(meet, other, 5, print), daemon=True).start()
    with pytest.raises(FileError, match="a task calling itself worker 1 has another "
                       "cluster in its TF_CONFIG"):
        meet(cluster_of(ports, 0), 30, lambda line: None)


def _quietly(function, *args) -> None:
    try:
        function(*args)
    except FileError:
        pass


def test_a_task_that_never_comes_is_said_within_the_cluster_timeout(work):
    """Issue 19, item 2: a TF_CONFIG naming a port nobody listens on, and one held by a
    program that is not `cnndsl train`: an error naming both once --cluster-timeout has
    passed (the command used to wait forever)."""
    stranger = socket.create_server(("127.0.0.1", 0))  # accepts, never says hello
    own, nobody = free_ports(2)
    workers = [f"127.0.0.1:{p}" for p in (own, nobody, stranger.getsockname()[1])]
    with stranger:
        done = subprocess.run(
            [sys.executable, "-m", "cnndsl", "train", work / "net.cnn", "--data",
             work / "d.npz", "-o", work / "o.keras", "--strategy", "multiworker",
             "--cluster-timeout", "3"], capture_output=True, text=True, timeout=600,
            env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
                 "TF_CONFIG": tf_config(workers)})
    assert done.returncode == 1, done.stderr[-3000:]
    error = done.stderr[done.stderr.index("TF_CONFIG: error: "):]
    assert error.startswith(
        f"TF_CONFIG: error: the cluster did not meet within 3 s: worker 1 at {workers[1]} "
        f"(connection refused); worker 2 at {workers[2]} (it accepts a connection but "
        "never says hello: not `cnndsl train`?)\nhint: "), error
    assert sorted(p.name for p in work.iterdir()) == ["d.npz", "net.cnn"]


def test_sigterm_while_the_cluster_meets_ends_the_command(work):
    """Issue 19, item 2: SIGTERM while worker 0 waits for a worker that never comes: exit
    143, and -o not written (SIGTERM was caught and never acted on)."""
    own, nobody = free_ports(2)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnndsl", "train", work / "net.cnn", "--data",
         work / "d.npz", "-o", work / "o.keras", "--strategy", "multiworker"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
             "TF_CONFIG": tf_config([f"127.0.0.1:{own}", f"127.0.0.1:{nobody}"])})
    assert proc.stderr is not None
    try:
        for line in proc.stderr:  # TensorFlow imported, the meeting under way
            if "waits up to 300 s for the other tasks" in line:
                break
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM, rest[-3000:]
    finally:
        proc.kill()
    assert rest.endswith(f"cnndsl train: interrupted; {work / 'o.keras'} was not written\n")
    assert sorted(p.name for p in work.iterdir()) == ["d.npz", "net.cnn"]


# ---- TensorFlow's meeting, bounded ------------------------------------------------------------

BLOCKED = """
import sys, threading
from cnndsl.training import watchdog
ending = watchdog.Ending("stopped while waiting", "error: too late", [sys.argv[2]])
with watchdog.bounded(float(sys.argv[1]), ending):
    print("inside", flush=True)
    if sys.argv[3] == "block":
        threading.Event().wait()
print("left", flush=True)
"""


def bounded(tmp_path: Path, timeout: float, block: bool) -> subprocess.Popen:
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "x").write_bytes(b"x")
    return subprocess.Popen([sys.executable, "-c", BLOCKED, str(timeout),
                             str(tmp_path / "scratch"), "block" if block else "leave"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_signal_ends_a_bounded_block_at_once(tmp_path):
    proc = bounded(tmp_path, 600, block=True)
    assert proc.stdout is not None and proc.stdout.readline() == "inside\n"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM  # ended by the signal itself (a shell: 143)
    assert err == "stopped while waiting\n"
    assert not (tmp_path / "scratch").exists()


def test_a_bounded_block_ends_at_its_deadline(tmp_path):
    proc = bounded(tmp_path, 1, block=True)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (1, "inside\n", "error: too late\n")
    assert not (tmp_path / "scratch").exists()


def test_a_bounded_block_left_leaves_everything_as_it_was(tmp_path):
    proc = bounded(tmp_path, 600, block=False)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (0, "inside\nleft\n", "")
    assert (tmp_path / "scratch" / "x").exists()


def test_a_bounded_block_restores_the_handlers():
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    with watchdog.bounded(600, watchdog.Ending("", "")):
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert {s: signal.getsignal(s) for s in before} == before
