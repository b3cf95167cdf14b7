"""The tasks of a cluster meet before TensorFlow forms it: bounded, and in Python.

TensorFlow's own meeting (`MultiWorkerMirroredStrategy()`, every task registering with
the coordination service) waits in C++ holding the GIL, with SIGTERM taken by its
preemption notifier: a task that never comes means a wait without end that neither
Ctrl-C's handler nor SIGTERM can interrupt. So the tasks meet here first, and hand over
to TensorFlow only when every one of them is there and about to do the same; then
TensorFlow's meeting takes a moment.

Each task listens on its own port and connects to every other task's, over which it
sends one line, `CLUSTER TASK hello` (CLUSTER: a digest of TF_CONFIG's cluster, so that
a task of another cluster is told apart; TASK: `worker 1`). Once it is connected to
every other task and every other task has said hello to it, it sends `ready` on each of
its connections. It leaves when every other task has said `ready` to it: by then every
other task has made all its connections, so none will connect to this one's port again,
and TensorFlow's server can take it. A port that accepts a connection but never says
hello (another program, or a task of an older cnndsl) keeps the meeting from ending; at
the deadline, an error says which task did what.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import shown
from ..support.files import FileError
from .cluster import Cluster

_POLL = 0.25  # seconds between two rounds of connecting
_LINE = 200  # bytes: a longer line is not one of ours


@dataclass
class _Peer:
    address: str
    out: socket.socket | None = None  # our connection to it
    why: str = "no answer"  # why it is not connected
    hello: bool = False  # it has said hello on its connection to us
    ready: bool = False


@dataclass
class _Incoming:
    """A peer's connection to us: what it sent of a line, and who it said it is."""

    buffer: bytes = b""
    task: str | None = None


@dataclass
class Meeting:
    """One task's side of the meeting (see the module's docstring)."""

    cluster: Cluster
    peers: dict[str, _Peer] = field(init=False)
    selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    sent_ready: bool = False

    def __post_init__(self) -> None:
        self.peers = {task: _Peer(address) for task, address in self.cluster.peers().items()}

    def line(self, word: str) -> bytes:
        return f"{self.cluster.identity} {self.cluster.task} {word}\n".encode()

    def done(self) -> bool:
        return self.sent_ready and all(p.ready for p in self.peers.values())

    def connect(self) -> None:
        """Connect to the peers not yet connected; say hello (and ready, if said before)."""
        for peer in self.peers.values():
            if peer.out is None:
                peer.out, peer.why = _connected(peer.address)
                if peer.out is not None and not self._send(peer, self.line("hello")):
                    continue
                if peer.out is not None and self.sent_ready:
                    self._send(peer, self.line("ready"))
        if not self.sent_ready and all(p.out is not None and p.hello
                                       for p in self.peers.values()):
            self.sent_ready = True
            for peer in self.peers.values():
                self._send(peer, self.line("ready"))

    def _send(self, peer: _Peer, data: bytes) -> bool:
        try:
            assert peer.out is not None
            peer.out.sendall(data)
            return True
        except OSError as e:  # it went away: connect again next round
            if peer.out is not None:
                peer.out.close()
            peer.out, peer.why = None, shown(e.strerror or e).lower()
            return False

    def read(self, key: selectors.SelectorKey) -> None:
        """A new connection, or lines (or the end) from a peer's connection to us."""
        if key.data is None:
            with contextlib.suppress(OSError):
                conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                conn.setblocking(False)
                self.selector.register(conn, selectors.EVENT_READ, data=_Incoming())
            return
        conn, incoming = key.fileobj, key.data
        try:
            chunk = conn.recv(4096)  # type: ignore[union-attr]
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        incoming.buffer += chunk
        while b"\n" in incoming.buffer:
            line, _, incoming.buffer = incoming.buffer.partition(b"\n")
            incoming.task = self._said(line.decode("utf-8", "replace").split()) or incoming.task
        if not chunk or len(incoming.buffer) > _LINE:
            self.selector.unregister(conn)
            _reset(conn)  # type: ignore[arg-type]
            self._gone(incoming.task)

    def _said(self, words: list[str]) -> str | None:
        """The task that said `words`, if they are a line of ours."""
        if len(words) != 4 or words[3] not in ("hello", "ready"):
            return None  # not one of ours: a port scanner, say
        identity, task, word = words[0], " ".join(words[1:3]), words[3]
        peer = self.peers.get(task)
        if identity != self.cluster.identity or peer is None:
            raise FileError("TF_CONFIG", f"a task calling itself {shown(task)} has "
                            "another cluster in its TF_CONFIG", "give every task the same "
                            "`cluster`, and each its own `task`")
        peer.hello = True
        peer.ready = peer.ready or word == "ready"
        return task

    def _gone(self, task: str | None) -> None:
        """A peer's connection to us ended: after `ready`, it left for TensorFlow; before,
        it ended or restarts, and a new one will need our hello again."""
        peer = self.peers.get(task or "")
        if peer is not None and not peer.ready:
            peer.hello = False
            if peer.out is not None:
                peer.out.close()
            peer.out, peer.why = None, "it left and has not come back"

    def close(self) -> None:
        """Our connections end as usual (the peers read what we sent, then the end);
        theirs to us, read to the end, are reset (`_reset`)."""
        for key in list(self.selector.get_map().values()):
            if key.data is None:
                key.fileobj.close()  # type: ignore[union-attr]
            else:
                _reset(key.fileobj)  # type: ignore[arg-type]
        self.selector.close()
        for peer in self.peers.values():
            if peer.out is not None:
                peer.out.close()

    def missing(self) -> str:
        """The peers the meeting waits for, and why."""
        said = []
        for task, peer in self.peers.items():
            if peer.out is None:
                why = peer.why
            elif not peer.hello:
                why = "it accepts a connection but never says hello: not `cnndsl train`?"
            elif not peer.ready:
                why = "it waits for other tasks"
            else:
                continue
            said.append(f"{task} at {shown(peer.address)} ({why})")
        return "; ".join(said[:5]) + (f"; and {len(said) - 5} more" if len(said) > 5 else "")


def meet(cluster: Cluster, timeout: float, say: Callable[[str], None]) -> None:
    """Wait until every task of the cluster is here (see the module's docstring), at most
    `timeout` seconds, or a `FileError` naming those that are not. `say` tells once that
    the wait goes on. Interruptible: the wait is Python's own."""
    try:
        listener = _listen(cluster.port)
    except OSError as e:
        raise FileError("TF_CONFIG", f"this task's port {cluster.port} ({shown(cluster.address)}) "
                        f"cannot be opened: {shown(e.strerror or e)}", "choose a free port "
                        "for this task in TF_CONFIG, or end the program that holds it") from None
    meeting = Meeting(cluster)
    meeting.selector.register(listener, selectors.EVENT_READ, data=None)
    start, told = time.monotonic(), False
    try:
        while True:
            meeting.connect()
            for key, _ in meeting.selector.select(_POLL):
                meeting.read(key)
            if meeting.done():
                return
            if time.monotonic() - start >= timeout:
                raise FileError("TF_CONFIG", f"the cluster did not meet within {timeout:g} s: "
                                f"{meeting.missing()}", "start `cnndsl train --strategy "
                                "multiworker` on every machine of the cluster, with the "
                                "same cluster in TF_CONFIG; check the hosts, ports and "
                                "firewalls; or wait longer with --cluster-timeout SECONDS")
            if not told and time.monotonic() - start > 1.0:  # not for tasks a moment apart
                say(f"cnndsl train: {cluster.task} waits up to {timeout:g} s for the "
                    f"other tasks: {meeting.missing()}")
                told = True
    finally:
        meeting.close()


def _reset(sock: socket.socket) -> None:
    """Closed without TIME_WAIT, which would stay on this task's port, TensorFlow's next:
    for a peer's connection to us, whose lines are all read (nothing is lost)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _listen(port: int) -> socket.socket:
    """A socket listening on every interface at `port`, as TensorFlow's server will."""
    if socket.has_dualstack_ipv6():
        server = socket.create_server(("", port), family=socket.AF_INET6,
                                      dualstack_ipv6=True, backlog=64)
    else:
        server = socket.create_server(("", port), backlog=64)
    server.setblocking(False)
    return server


def _connected(address: str) -> tuple[socket.socket | None, str]:
    """(a connection to `address`, "") or (None, why not: `connection refused`)."""
    host, _, port = address.rpartition(":")
    try:
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=1.0)
    except socket.gaierror:
        return None, "no such host"
    except TimeoutError:
        return None, "no answer"
    except OSError as e:
        return None, shown(e.strerror or e).lower()
    sock.settimeout(2.0)
    return sock, ""
