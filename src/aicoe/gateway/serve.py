"""The standalone gateway server process: ``python -m aicoe.gateway.serve HOST PORT WORKERS``.

``aicoe gateway serve`` checks the database, then replaces itself with this process (``os.execv``), so the
supervisor and every worker hold only the gateway's imports, not the whole CLI's (the evaluation engine's SciPy,
Alembic, every area): a worker idles at about half the memory. The listening socket is made with ``IPPROTO_TCP``
(``aicoe.core.net``) so several workers answer without Nagle's 40 ms delay.

Each response goes out in one write (``CorkedHttpToolsProtocol``): uvicorn writes a response's head and body
separately, and with Nagle off that is two segments, two system calls and, often, two wake-ups of the caller.
"""

from __future__ import annotations

import asyncio
import sys
from socket import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from aicoe.core.net import tcp_listener

# A worker imports the gateway before it answers the supervisor's ping; uvicorn's 5 s default kills slow starters
# on a loaded machine (and a killed worker loses its unflushed usage records).
WORKER_HEALTHCHECK_S = 30
USAGE = "usage: python -m aicoe.gateway.serve HOST PORT WORKERS"


CORK_LIMIT = 64 * 1024  # bytes held at most: past it they are written at once (and flow control sees them)


class CorkedTransport:
    """A transport whose writes within one event-loop step leave as one: they are joined and written at the end of
    the step (``call_soon``), at ``close``, or once ``CORK_LIMIT`` bytes wait. Everything else is the wrapped
    transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)
        self._size += len(data)
        if self._size > CORK_LIMIT:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending, self._size = self._pending, [], 0
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending, self._size = [], 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a ``CorkedTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, asyncio.get_running_loop()))  # type: ignore[arg-type]


class _Config(uvicorn.Config):
    def bind_socket(self) -> socket:
        sock = tcp_listener(self.host, self.port)
        sock.set_inheritable(True)
        return sock


def main(argv: list[str]) -> None:
    if len(argv) != 3 or not argv[1].isdigit() or not argv[2].isdigit():
        raise SystemExit(USAGE)
    host, port, workers = argv[0], int(argv[1]), int(argv[2])
    config = _Config("aicoe.gateway.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                     log_config=None, proxy_headers=True, access_log=False, http=CorkedHttpToolsProtocol,
                     timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:  # asyncio's own listener already sets TCP_NODELAY
        uvicorn.Server(config).run()


if __name__ == "__main__":
    main(sys.argv[1:])
