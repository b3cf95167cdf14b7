"""TF_CONFIG, read and checked before TensorFlow sees it.

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}'

TensorFlow reads TF_CONFIG only once the strategy is made, and then a mistake in it is a
Python exception from deep inside (`The task_id 5 exceeds the maximum id of worker`), a
C++ log line (`Could not parse port`), a run that trains as worker 0 when the index is
the string "0" or 0.5, or, for a `ps` job, a wait without end. So every part of it is
checked here, before TensorFlow is imported, and said in TF_CONFIG's own terms
(`task.index is 5 but cluster.worker lists 1 task`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from ..errors import shown
from ..support.files import FileError

EXAMPLE = ('e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
           '"task": {"type": "worker", "index": 0}}\' (docs/training.md)')
TRAINING_JOBS = ("chief", "worker")  # the tasks MultiWorkerMirroredStrategy trains with
JOBS = (*TRAINING_JOBS, "evaluator")


@dataclass(frozen=True)
class Cluster:
    """The cluster of TF_CONFIG and this process's task in it."""

    jobs: dict[str, list[str]]  # job -> its tasks' host:port
    task_type: str
    index: int

    @property
    def task(self) -> str:
        """`worker 0`: how messages name this task."""
        return f"{self.task_type} {self.index}"

    @property
    def address(self) -> str:
        return self.jobs[self.task_type][self.index]

    @property
    def port(self) -> int:
        return port_of(self.address, "this task's address")

    @property
    def chief(self) -> bool:
        """The chief writes the outputs: the `chief` task, or worker 0 when there is none."""
        if "chief" in self.jobs:
            return self.task_type == "chief"
        return self.index == 0

    @property
    def identity(self) -> str:
        """The same for every task of one cluster, different for another cluster."""
        text = json.dumps(self.jobs, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def peers(self) -> dict[str, str]:
        """The other tasks that train (`worker 1` -> its host:port)."""
        return {f"{job} {i}": address for job in TRAINING_JOBS
                for i, address in enumerate(self.jobs.get(job, []))
                if (job, i) != (self.task_type, self.index)}


def _wrong(message: str, hint: str = EXAMPLE) -> FileError:
    return FileError("TF_CONFIG", message, hint)


def read(environ=os.environ) -> Cluster:
    """TF_CONFIG, every part checked as TensorFlow would need it, or a `FileError`."""
    text = environ.get("TF_CONFIG", "")
    if not text.strip():
        raise _wrong("--strategy multiworker needs the environment variable TF_CONFIG with "
                     "the cluster and this worker's task")
    try:
        config = json.loads(text)
    except ValueError as e:
        raise _wrong(f"is not JSON: {shown(e)}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) \
            or not isinstance(config.get("task"), dict):
        raise _wrong("must be a JSON object with `cluster` (each job's list of host:port) "
                     "and `task` (this process's type and index)")
    jobs = _jobs(config["cluster"])
    task_type, index = _task(config["task"], jobs)
    return Cluster(jobs, task_type, index)


def _jobs(cluster: dict) -> dict[str, list[str]]:
    jobs: dict[str, list[str]] = {}
    for job, tasks in cluster.items():
        if job == "ps":
            raise _wrong("the cluster has parameter servers (`ps`), which "
                         "--strategy multiworker does not use",
                         "list the machines under `worker` (and one `chief` if you like): "
                         "every one trains")
        if job not in JOBS:
            raise _wrong(f"the cluster has a job `{shown(job)}`; a job is "
                         "`worker`, `chief` or `evaluator`", EXAMPLE)
        if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
            raise _wrong(f"cluster.{job} must be a list of \"host:port\" strings, got "
                         f"{shown(json.dumps(tasks), limit=80)}")
        for address in tasks:
            port_of(address, f"cluster.{job}")
        jobs[job] = tasks
    if not any(jobs.get(job) for job in TRAINING_JOBS):
        raise _wrong("the cluster lists no workers",
                     "list every worker's host:port under cluster.worker")
    for job in ("chief", "evaluator"):
        if len(jobs.get(job, [])) > 1:
            raise _wrong(f"cluster.{job} lists {len(jobs[job])} tasks; there is at most one",
                         "list the other machines under `worker`")
    seen: dict[str, str] = {}
    for job, tasks in jobs.items():
        for i, address in enumerate(tasks):
            if address in seen:
                raise _wrong(f"{seen[address]} and {job} {i} are both at "
                             f"{shown(address)}", "give every task its own host:port")
            seen[address] = f"{job} {i}"
    return jobs


def port_of(address: str, where: str) -> int:
    """The port of `host:port` (`[::1]:port` for IPv6), or a `FileError`."""
    host, colon, port = address.rpartition(":")
    if not colon or not host.strip("[]") or not port.isascii() or not port.isdigit() \
            or not 0 < int(port) < 65536:
        raise _wrong(f"{where} has {shown(json.dumps(address))}, not a host:port with a port "
                     "from 1 to 65535", 'e.g. "host1:12345"')
    return int(port)


def _task(task: dict, jobs: dict[str, list[str]]) -> tuple[str, int]:
    task_type, index = task.get("type"), task.get("index")
    if task_type not in TRAINING_JOBS:
        got = "no type" if task_type is None else f"type {shown(json.dumps(task_type))}"
        raise _wrong(f"task has {got}; --strategy multiworker trains as a `worker` or the "
                     "`chief`", '"task": {"type": "worker", "index": 0}')
    if task_type not in jobs:
        raise _wrong(f"task.type is {task_type} but the cluster has no {task_type}",
                     f"list its host:port under cluster.{task_type}, or make this task a "
                     "worker")
    count = len(jobs[task_type])
    if type(index) is not int:  # noqa: E721 - a bool is an int to isinstance
        got = "missing" if index is None else shown(json.dumps(index), limit=40)
        raise _wrong(f"task.index must be a whole number, got {got}",
                     f'this task\'s position in cluster.{task_type} from 0, e.g. "index": 0')
    if not 0 <= index < count:
        listed = f"{count} task{'s' if count > 1 else ''} (index 0 to {count - 1})"
        raise _wrong(f"task.index is {index} but cluster.{task_type} lists {listed}",
                     f"set the index to this task's position in cluster.{task_type}, "
                     "counting from 0")
    return task_type, index
