"""Loopback HTTP (health checks, polls of the kit's own processes) goes through one client per process: a new
httpx client loads the machine's CA bundle (~21 ms of CPU), which every poll of a starting server paid."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from mlops.local import loopback
from mlops.local.frontdoor import process as frontdoor_process


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path.endswith("/health") else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_repeated_health_checks_build_one_client(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    original = httpx.Client.__init__

    def counting(self: httpx.Client, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "__init__", counting)
    monkeypatch.setattr(loopback, "_clients", {})
    answers = [frontdoor_process.healthy(server) for _ in range(5)]
    assert answers == [True] * 5
    assert not frontdoor_process.healthy("http://127.0.0.1:9")  # refused: not healthy, no error
    assert len(made) == 1


def test_a_forked_child_makes_a_client_of_its_own() -> None:
    parent = loopback.client()
    assert loopback.client() is parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got the parent's client, then leave without cleanup
        os.write(write, b"same" if loopback.client() is parent else b"own")
        os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 8) == b"own"
    finally:
        os.close(read)
        os.waitpid(pid, 0)
