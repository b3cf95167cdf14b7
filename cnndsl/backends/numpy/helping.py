"""Letting a worker that finished its share of the batch help with another's tiles.

A batch is split into one share per worker (see `threads`), and the run ends when the
last share does. On a quiet machine the shares end together; when something else takes
one core for a while, its share falls behind and the other core sits idle, while a
work-stealing pool (TensorFlow's) would simply move work over. So a share running a
layer posts that layer's tiles as a `Job`; it takes them one by one itself, and a
worker whose own share is done takes them too. Tiles write disjoint parts of the
layer's output and use only their thread's own buffers, and the owner waits for every
tile it posted before it moves on, so who computed which tile never shows in a result.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

_current = threading.local()  # `.round`: the Round of the share this thread runs


class Job:
    """The tiles of one layer of one share: `task([tile])` computes a tile.

    Tiles are handed out by an `itertools.count`, whose `next` is atomic under the GIL,
    so the owner takes its tiles without a lock; only a helper's tiles are counted and
    waited for."""

    def __init__(self, task: Callable[[list], None], tiles: list) -> None:
        self.task, self.tiles = task, tiles
        self.counter = itertools.count()
        self.taken = 0              # a lower bound of tiles handed out, for helpers
        self.helping = 0            # tiles a helper is computing now
        self.error: BaseException | None = None
        self.state = threading.Condition()

    def left(self) -> bool:
        return self.taken < len(self.tiles) and self.error is None

    def work(self) -> None:
        """The owner: compute tiles until none is left, wait for those a helper took,
        and raise the first error any tile raised."""
        while (i := next(self.counter)) < len(self.tiles):
            self.taken = i + 1
            self.task([self.tiles[i]])
        self.taken = len(self.tiles)
        with self.state:
            while self.helping:
                self.state.wait()
        if self.error is not None:
            raise self.error

    def help(self) -> None:
        """A helper: compute one tile, if any is left."""
        with self.state:
            if self.error is not None:
                return
            i = next(self.counter)
            if i >= len(self.tiles):
                self.taken = len(self.tiles)
                return
            self.taken = max(self.taken, i + 1)
            self.helping += 1
        try:
            self.task([self.tiles[i]])
        except BaseException as e:  # noqa: BLE001 - handed to the owner, raised there
            with self.state:
                self.error = self.error or e
        finally:
            with self.state:
                self.helping -= 1
                if not self.helping:
                    self.state.notify_all()


class Round:
    """The shares of one batch: their open jobs, and how many shares still run."""

    def __init__(self, shares: int) -> None:
        self.changed = threading.Condition()
        self.jobs: list[Job] = []
        self.unfinished = shares

    def share(self, task: Callable[[Any], Any], share: Any) -> Any:
        """Run `task(share)` in this thread as one share, then help the others."""
        _current.round = self
        try:
            return task(share)
        finally:
            _current.round = None
            with self.changed:
                self.unfinished -= 1
                self.changed.notify_all()
            self._help()

    def _help(self) -> None:
        while True:
            with self.changed:
                while self.unfinished and not any(job.left() for job in self.jobs):
                    self.changed.wait()
                if not self.unfinished:
                    return
                job = next(job for job in self.jobs if job.left())
            job.help()

    def run(self, task: Callable[[list], None], tiles: list) -> None:
        job = Job(task, tiles)
        with self.changed:
            self.jobs.append(job)
            self.changed.notify_all()
        try:
            job.work()
        finally:
            with self.changed:
                self.jobs.remove(job)


def current() -> Round | None:
    """The Round of the share running in this thread, if any."""
    return getattr(_current, "round", None)
