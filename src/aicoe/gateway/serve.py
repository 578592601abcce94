"""The standalone gateway server process: ``python -m aicoe.gateway.serve HOST PORT WORKERS``.

``aicoe gateway serve`` checks the database, then replaces itself with this process (``os.execv``), so the
supervisor and every worker hold only the gateway's imports, not the whole CLI's (the evaluation engine's SciPy,
Alembic, every area): a worker idles at about half the memory. The listening socket is made with ``IPPROTO_TCP``
(``aicoe.core.net``) so several workers answer without Nagle's 40 ms delay.
"""

from __future__ import annotations

import sys
from socket import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from aicoe.core.net import tcp_listener

# A worker imports the gateway before it answers the supervisor's ping; uvicorn's 5 s default kills slow starters
# on a loaded machine (and a killed worker loses its unflushed usage records).
WORKER_HEALTHCHECK_S = 30
USAGE = "usage: python -m aicoe.gateway.serve HOST PORT WORKERS"


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
                     log_config=None, proxy_headers=True, access_log=False,
                     timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:  # asyncio's own listener already sets TCP_NODELAY
        uvicorn.Server(config).run()


if __name__ == "__main__":
    main(sys.argv[1:])
