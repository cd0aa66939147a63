"""A loopback TCP proxy between a client under test and a real server, with switchable faults.

Faults (all on real sockets; nothing in the client is replaced):
- `down()`: nothing listens on the port any more (new connections are refused by the
  kernel) and every open connection is cut; `up()` listens again on the same port.
- `refuse_new = True`: connections are accepted and closed at once, before the server
  says anything (each is recorded in `attempts`, so the client's retry timing can be
  measured).
- `cut(...)`: cut a connection once its client->server stream has passed `after_bytes`
  bytes, or when it carries `marker` (before forwarding that chunk, or right after it);
  on the next `times` connections that reach the point (None: every one). With
  `then_down=True` the proxy also goes down at that moment (the server dies mid-run).

A cut closes both sides (shutdown, then close): the client sees the connection drop; the
server gets everything forwarded before the cut, then end of stream, so it notices at
once that its client is gone and rolls back an open transaction.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class CutRule:
    after_bytes: int | None = None
    marker: bytes | None = None
    after_marker: bool = False  # True: forward the chunk carrying the marker, then cut
    times: int | None = 1  # how many connections to cut; None: all of them
    then_down: bool = False


@dataclass
class ProxyLog:
    attempts: list[float] = field(default_factory=list)  # monotonic time of each accepted connection
    refused: int = 0  # connections closed on arrival (refuse_new)
    cuts: list[str] = field(default_factory=list)  # why each cut happened
    forwarded: int = 0  # client -> server bytes, all connections


def _drop(sock: socket.socket) -> None:
    """Drop the connection now. shutdown() first: close() alone would not wake a thread
    blocked in recv() on it, and the peer would never learn the connection is gone. (No
    reset: a reset could discard bytes forwarded just before the cut, e.g. a COMMIT.)"""
    for step in (lambda: sock.shutdown(socket.SHUT_RDWR), sock.close):
        try:
            step()
        except OSError:
            pass


class FaultProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.log = ProxyLog()
        self.refuse_new = False
        self._rule: CutRule | None = None
        self._lock = threading.Lock()
        self._open: set[tuple[socket.socket, socket.socket]] = set()
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        with socket.socket() as probe:  # a free port, kept across down()/up()
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    # -- control ---------------------------------------------------------------------------
    def up(self) -> "FaultProxy":
        with self._lock:
            if self._listener is None:
                self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR on POSIX
                self._listener.settimeout(0.05)
                threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self

    def down(self) -> None:
        """Stop listening (new connections refused) and cut every open connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._open = set(self._open), set()
        if listener is not None:
            _drop(listener)  # shutdown() too: the accept thread may be inside accept()
        for client, upstream in pairs:
            _drop(client)
            _drop(upstream)

    def cut(self, rule: CutRule | None) -> None:
        with self._lock:
            self._rule = rule

    def close(self) -> None:
        self._stopped.set()
        self.down()

    def __enter__(self) -> "FaultProxy":
        return self.up()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- forwarding ------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                if self._listener is not listener:
                    return
                continue
            except OSError:
                return
            client.settimeout(None)
            self.log.attempts.append(time.monotonic())
            if self.refuse_new:
                self.log.refused += 1
                _drop(client)
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _drop(client)
                continue
            pair = (client, upstream)
            with self._lock:
                self._open.add(pair)
            threading.Thread(target=self._client_to_server, args=(pair,), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(pair,), daemon=True).start()

    def _cut_pair(self, pair, reason: str, then_down: bool) -> None:
        self.log.cuts.append(reason)
        with self._lock:
            self._open.discard(pair)
        _drop(pair[0])
        _drop(pair[1])
        if then_down:
            self.down()

    def _take_rule(self, sent: int, chunk: bytes, tail: bytes) -> tuple[CutRule, int, str] | None:
        """The rule this chunk triggers: (rule, bytes of the chunk to forward first, reason)."""
        with self._lock:
            rule = self._rule
            if rule is None:
                return None
            hit = None
            if rule.after_bytes is not None and sent + len(chunk) >= rule.after_bytes:
                hit = (rule, rule.after_bytes - sent, f"after {rule.after_bytes} bytes")
            elif rule.marker is not None and rule.marker in tail + chunk:
                where = "after" if rule.after_marker else "before"
                hit = (rule, len(chunk) if rule.after_marker else 0, f"{where} {rule.marker.decode()!r}")
            if hit is None:
                return None
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self._rule = None
            return hit

    def _client_to_server(self, pair) -> None:
        client, upstream = pair
        sent, tail = 0, b""
        try:
            while chunk := client.recv(65536):
                hit = self._take_rule(sent, chunk, tail)
                if hit is not None:
                    rule, forward, reason = hit
                    if forward > 0:
                        upstream.sendall(chunk[:forward])
                        self.log.forwarded += forward
                    self._cut_pair(pair, reason, rule.then_down)
                    return
                upstream.sendall(chunk)
                sent += len(chunk)
                self.log.forwarded += len(chunk)
                tail = chunk[-64:]  # a marker split across two reads is still found
        except OSError:
            pass
        self._close_pair(pair)

    def _server_to_client(self, pair) -> None:
        client, upstream = pair
        try:
            while chunk := upstream.recv(65536):
                client.sendall(chunk)
        except OSError:
            pass
        self._close_pair(pair)

    def _close_pair(self, pair) -> None:
        with self._lock:
            if pair not in self._open:
                return
            self._open.discard(pair)
        for sock in pair:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
