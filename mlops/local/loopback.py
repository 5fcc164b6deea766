"""HTTP to the kit's own local processes (emulators, model servers, the front door): one client per process.

Why: ``httpx.get`` builds a client for each call, and each client loads the machine's CA bundle into a new SSL
context (21 ms of CPU per call measured here) though these URLs are plain HTTP on loopback. The health checks poll
every 0.1-0.2 s while a server starts: one run of the test suite made ~3,400 such calls, ~70 s of CPU. A request
on one kept client costs ~0.2 ms.

The client is made on first use in each process (a process forked by the warm command server makes its own: the
parent's pooled connections are not its to use). httpx's client is safe to share between threads (the batch
transform's workers post through it at once).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import httpx

_lock = threading.Lock()
_clients: dict[int, httpx.Client] = {}  # by the pid that made it: a forked child finds none of its own


def client() -> httpx.Client:
    """This process's client for loopback HTTP (made on first use, again after a fork)."""
    with _lock:
        made = _clients.get(os.getpid())
        if made is None:
            made = _clients[os.getpid()] = httpx.Client()
        return made


def get(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.get`` on this process's client (same arguments, same errors)."""
    return client().get(url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.post`` on this process's client (same arguments, same errors)."""
    return client().post(url, **kwargs)
