"""A TCP proxy of our own, on loopback, that injures connections on purpose: drops them
before any byte, delays them, or cuts the response midway. Seeded, so a failure replays."""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Faults:
    drop: float = 0.0  # share of connections closed at once
    cut: float = 0.0  # share of connections whose response is cut after a few bytes
    delay: float = 0.0  # share of connections delayed by `delay_s`
    delay_s: float = 0.2
    cut_within: int = 200  # a cut connection carries at most this many response bytes
    counts: dict[str, int] = field(default_factory=lambda: {"drop": 0, "cut": 0, "delay": 0})


class FaultProxy:
    def __init__(self, upstream_port: int, *, seed: int, faults: Faults | None = None) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.faults = faults or Faults()
        self.random = random.Random(seed)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)

    def _roll(self, kind: str) -> bool:
        with self._lock:
            hit = self.random.random() < getattr(self.faults, kind)
            if hit:
                self.faults.counts[kind] += 1
            return hit

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self._roll("drop"):
            client.close()
            return
        if self._roll("delay"):
            time.sleep(self.faults.delay_s)
        try:
            upstream = socket.create_connection(self.upstream, timeout=30)
        except OSError:
            client.close()
            return
        cut_after = self.random.randint(1, self.faults.cut_within) if self._roll("cut") else None
        threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
        self._pump(upstream, client, cut_after)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, cut_after: int | None) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if cut_after is not None and sent + len(data) >= cut_after:
                    sink.sendall(data[: max(0, cut_after - sent)])
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
