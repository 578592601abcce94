"""A listening TCP socket whose connections answer without Nagle's delay.

asyncio turns on TCP_NODELAY for an accepted connection only when the listening socket was created with
``IPPROTO_TCP`` (its ``proto``); a plain ``socket.socket()`` has proto 0, so every small response waits ~40 ms for
the peer's delayed ACK. uvicorn's own multi-worker socket and any socket handed to ``uvicorn.Server.run`` need this.
"""

from __future__ import annotations

import socket


def tcp_listener(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket for ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock
