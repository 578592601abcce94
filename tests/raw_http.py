"""A scriptable local HTTP/1.1 server for client tests: each request goes to a handler that writes whatever bytes
it likes (framings, stalls, closes a well-behaved server never produces). Real sockets, no mocks."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # 0 for the server's first connection, 1 for its second...
    number: int  # 0 for the first request on its connection


Handler = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    """Serves on 127.0.0.1 until ``close``; ``requests`` in arrival order, ``closed_by_client`` counts connections
    the client closed (EOF or reset) while the handler was running or between requests."""

    handler: Handler
    tls: ssl.SSLContext | None = None
    requests: list[RawRequest] = field(default_factory=list)
    connections: int = 0
    closed_by_client: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _gone: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def wait_client_close(self, count: int = 1, timeout_s: float = 5.0) -> bool:
        async def until() -> None:
            while self.closed_by_client < count:
                self._gone.clear()
                await self._gone.wait()

        try:
            await asyncio.wait_for(until(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Requests in turn; the next one is read while the handler runs, so a client that goes away meanwhile is
        noticed (and the handler cancelled)."""
        index, self.connections = self.connections, self.connections + 1
        number = 0
        reading = asyncio.ensure_future(self._read(reader, index, 0))
        try:
            while True:
                try:
                    request = await reading
                except (asyncio.IncompleteReadError, ConnectionError):
                    self._client_closed()
                    return
                self.requests.append(request)
                number += 1
                work = asyncio.ensure_future(self.handler(request, writer))
                reading = asyncio.ensure_future(self._read(reader, index, number))
                await asyncio.wait((work, reading), return_when=asyncio.FIRST_COMPLETED)
                if not work.done() and reading.exception() is not None:
                    work.cancel()
                    self._client_closed()
                    return
                await work
                if writer.is_closing():
                    return
                await writer.drain()
        finally:
            reading.cancel()
            writer.close()

    def _client_closed(self) -> None:
        self.closed_by_client += 1
        self._gone.set()

    @staticmethod
    async def _read(reader: asyncio.StreamReader, connection: int, number: int) -> RawRequest:
        head = await reader.readuntil(b"\r\n\r\n")
        line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
        method, target, _ = line.split(" ")
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return RawRequest(method, target, headers, body, connection, number)


def head(length: int, status: str = "200 OK", content_type: str = "application/json", extra: str = "") -> bytes:
    """A Content-Length response's head; ``extra`` is more header lines, each ending with CRLF."""
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n{extra}\r\n"
            ).encode()


def response(body: bytes, status: str = "200 OK", content_type: str = "application/json", extra: str = "") -> bytes:
    """A Content-Length response's bytes."""
    return head(len(body), status, content_type, extra) + body
