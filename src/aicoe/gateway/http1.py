"""A lean HTTP/1.1 client for the gateway's upstream calls: asyncio protocols, ``httptools``'s response parser and
a keep-alive pool per origin.

Why not a general-purpose client: the gateway sends one kind of request (a POST of a JSON body) to a handful of
origins, and a general client's per-request machinery (pool bookkeeping, stream wrappers, header validation,
several readiness polls per response) cost more CPU than everything else the gateway does per request. Here a
request is built as bytes and written in one call, the response is parsed by the protocol as bytes arrive, and the
caller is woken once per wait (once for a whole small answer).

Behaviour:

- Keep-alive: a connection goes back to its origin's idle pool (most recent first, at most ``max_idle`` per
  origin, dropped after ``idle_expiry_s``) once a response has fully arrived and both sides allow keep-alive.
  A reused connection the server closed before any byte of the response arrived is replaced by a fresh one and
  the request sent again, once (the server closed an idle connection as the request went out).
- Bodies: Content-Length, chunked (``httptools`` de-chunks) or until the server closes. Streamed bodies are an
  async iterator of byte chunks; reading is paused while more than ``HIGH_WATER`` bytes wait to be consumed.
- Timeouts: ``connect_s`` for the TCP (and TLS) handshake; ``read_s`` per read, as in httpx: the longest the
  server may stay silent while a response is awaited. Writes are not timed separately: request bodies are small
  and handed to the transport at once, so an upstream that stops reading them is caught by the read timeout.
- Cancellation: cancelling the awaiting task, or closing a response before its end, aborts the connection, so
  the upstream sees the disconnect at once (and stops generating).
- TLS: ``https`` origins use ``ssl.create_default_context()`` (the system's trust store; ``SSL_CERT_FILE`` and
  ``SSL_CERT_DIR`` are honoured) unless the client is given a context.
- Proxies: the ``*_proxy``/``no_proxy`` environment variables are read once, when the client is made (rules in
  ``proxy_env``), and each origin's route is fixed when its pool is made, so a client without proxies does no
  extra work per request. An https origin is reached through a tunnel (``CONNECT``, then TLS to the origin over
  it); an http origin by sending the request to the proxy in absolute form. The proxy itself may be ``http://``
  or ``https://`` (TLS to the proxy, with the same trust settings). ``Proxy-Authorization: Basic`` is sent when
  the proxy URL has credentials. The connect timeout covers the proxy connection, the tunnel and the TLS
  handshake. A proxy refusing (a non-2xx answer to ``CONNECT``, a 407 to a forwarded request) is a
  ``ProxyError``; a proxy that cannot be used (``socks5://``, a malformed URL) is logged when the client is made
  and fails every request that would go through it.

Errors are ``TransportError`` subclasses; HTTP error statuses are responses, not exceptions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from functools import lru_cache
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

import httptools

from aicoe.gateway.proxy_env import ProxySettings, ProxyURL

log = logging.getLogger(__name__)

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
MAX_IDLE_PER_ORIGIN = 256
IDLE_EXPIRY_S = 30.0
# Headers the client writes itself; a caller's copy would duplicate or contradict them.
RESERVED_HEADERS = frozenset({"host", "content-type", "content-length", "transfer-encoding", "connection",
                              "accept-encoding"})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_VALUE = re.compile(r"[\r\n\0]")
MAX_PROXY_HEAD = 64 * 1024  # the most a proxy's answer to CONNECT may hold


class TransportError(Exception):
    """The exchange failed below HTTP: no (complete) response."""


class ConnectError(TransportError):
    """The connection could not be opened."""


class Timeout(TransportError):
    """The server did not answer in time."""


class ProxyError(ConnectError):
    """The proxy refused: a non-2xx answer to ``CONNECT``, or 407 to a forwarded request (``status``)."""

    def __init__(self, proxy: ProxyURL, status: int, target: str) -> None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "unknown status"
        super().__init__(f"the proxy {proxy.address} ({proxy.variable}) refused {target}: {status} {phrase}")
        self.status = status


class ConnectTimeout(Timeout, ConnectError):
    """The TCP or TLS handshake took longer than the connect timeout."""


class ReadTimeout(Timeout):
    """The server stayed silent longer than the read timeout while a response was awaited."""


class RemoteProtocolError(TransportError):
    """The server sent something that is not HTTP/1.1, or closed the connection mid-response."""


class LocalProtocolError(TransportError):
    """The request cannot be sent as given (a header name or value HTTP does not allow)."""


class _StaleConnection(RemoteProtocolError):
    """A reused connection closed before any byte of the response: safe to send again on a fresh one."""


class Origin:
    """Where requests go: scheme, host and port, and the ``Host`` header they carry (``authority`` always has the
    port: a ``CONNECT`` target)."""

    __slots__ = ("scheme", "host", "port", "host_header", "authority", "key")

    def __init__(self, scheme: str, host: str, port: int) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        default = 443 if scheme == "https" else 80
        name = f"[{host}]" if ":" in host else host
        self.host_header = name if port == default else f"{name}:{port}"
        self.authority = f"{name}:{port}"
        self.key = (scheme, host, port)


@lru_cache(maxsize=1024)
def parse_url(url: str, query: tuple[tuple[str, str], ...] = ()) -> tuple[Origin, str]:
    """The origin and request target (path and query) of an absolute http(s) URL; cached, since a gateway sends
    to a few URLs over and over."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LocalProtocolError(f"not an absolute http(s) URL: {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise LocalProtocolError(f"invalid port in URL: {url!r}") from None
    target = parts.path or "/"
    queries = [q for q in (parts.query, urlencode(query)) if q]
    if queries:
        target += "?" + "&".join(queries)
    if _BAD_VALUE.search(target) or " " in target:
        raise LocalProtocolError("the request target contains whitespace or control characters")
    return Origin(parts.scheme, parts.hostname, port), target


@lru_cache(maxsize=1024)
def _header_block(headers: tuple[tuple[str, str], ...]) -> bytes:
    """The caller's headers as CRLF-terminated lines, validated once per distinct set."""
    lines = []
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            raise LocalProtocolError(f"invalid header name {name!r}")
        if _BAD_VALUE.search(value):
            raise LocalProtocolError(f"invalid value for header {name!r}")
        if name.lower() not in RESERVED_HEADERS:
            lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


def build_request(method: str, origin: Origin, target: str, headers: Iterable[tuple[str, str]],
                  body: bytes, content_type: str = "application/json") -> bytes:
    """The request's bytes: request line, Host, Content-Type, Content-Length, Accept-Encoding, the caller's
    headers, then the body (the gateway relays JSON it can read, so it asks for no compression)."""
    head = (f"{method} {target} HTTP/1.1\r\nHost: {origin.host_header}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nAccept-Encoding: identity\r\n").encode("latin-1")
    return head + _header_block(tuple(headers)) + b"\r\n" + body


class Response:
    """One response: ``status`` and ``headers`` (lower-case names; repeated ones joined with ", ") once the head
    has arrived; the body through ``aread``/``aiter_bytes``; ``close`` when done with it.

    It is also the callback target of its own ``httptools`` parser, fed by the connection's protocol."""

    __slots__ = ("status", "headers", "content", "_conn", "_link", "_loop", "_parser", "_read_s", "_chunks",
                 "_buffered", "_paused", "_head_done", "_complete", "_error", "_waiter", "_timer", "_last",
                 "_received", "_until_eof", "_closed", "_began", "_flow")

    def __init__(self, conn: _Connection, read_s: float) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.content = b""  # what ``aread`` returned
        self._conn: _Connection | None = conn  # while the response still owns the connection
        self._link = conn
        self._loop = conn.loop
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self._read_s = read_s
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._flow = True  # stream mode: pause reading while the consumer lags, wake it for every chunk; off once
        # ``aread`` wants everything, which is woken once, at the end (not for the head, then each read of the body)
        self._head_done = self._complete = self._received = self._until_eof = self._closed = False
        self._began = 0
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last = 0.0  # when data last arrived, or the current wait began (the later)

    # -- fed by the connection -----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self._received = True
        self._last = self._loop.time()
        parser = self._parser
        if parser is None:
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(RemoteProtocolError(f"invalid HTTP response: {exc}"))
        if self._complete or self._error is not None:
            self._parser = None  # it holds our callbacks: a cycle the garbage collector would have to find

    def lost(self, exc: BaseException | None) -> None:
        """The connection closed: the end of an until-close body, else a failure."""
        if self._complete:
            return
        if self._head_done and self._until_eof:
            self._complete = True
            self._wake()
        elif not self._received:
            self._fail(_StaleConnection("the server closed the connection before answering"))
        else:
            self._fail(RemoteProtocolError("the server closed the connection mid-response"))

    # -- httptools callbacks -------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._began += 1
        if self._began > 1 and self.status >= 200:  # bytes after the response: the connection is unusable
            self._link.abort()
            self._fail(RemoteProtocolError("the server sent more than one response"))

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        assert self._parser is not None  # called by it
        self.status = self._parser.get_status_code()
        if self.status < 200:  # an interim response (100 Continue, 103 Early Hints): the real one follows
            return
        self._head_done = True
        self._until_eof = ("content-length" not in self.headers
                           and "chunked" not in self.headers.get("transfer-encoding", "").lower())
        if self._flow:
            self._wake()

    def on_body(self, body: bytes) -> None:
        if not body:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if not self._flow:
            return
        if self._buffered > HIGH_WATER and not self._paused and self._conn is not None:
            self._paused = True
            self._conn.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.status < 200:
            self.headers = {}
            return
        assert self._parser is not None  # called by it
        self._complete = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.finished(reusable=self._parser.should_keep_alive(), paused=self._paused)
        self._paused = False
        self._wake()

    # -- waiting -------------------------------------------------------------------------------------------------
    def _fail(self, error: BaseException) -> None:
        if self._error is None and not self._complete:
            self._error = error
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _check_silence(self) -> None:
        """The read timer: fail when a wait has seen no data for ``read_s``, else look again later. Time the caller
        spends between waits does not count (the timer lapses when nobody waits)."""
        self._timer = None
        if self._waiter is None:
            return
        idle = self._loop.time() - self._last
        if idle >= self._read_s:
            self._fail(ReadTimeout(f"no data from the server for {self._read_s:g} s"))
        else:
            self._timer = self._loop.call_later(self._read_s - idle, self._check_silence)

    async def _wait(self) -> None:
        """Until the parser has something new (or the exchange failed); cancelling aborts the connection."""
        if self._error is not None:
            raise self._error
        self._waiter = self._loop.create_future()
        self._last = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_later(self._read_s, self._check_silence)
        try:
            await self._waiter
        except BaseException:
            self._cancel_timer()
            self._abort()
            raise
        finally:
            self._waiter = None
        if self._error is not None:
            self._cancel_timer()
            raise self._error

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _head(self) -> None:
        while not self._head_done:
            await self._wait()

    # -- the caller's side ---------------------------------------------------------------------------------------
    async def aread(self) -> bytes:
        """The rest of the body (all of it unless ``aiter_bytes`` took some), also kept as ``content``."""
        self._flow = False
        if self._paused and self._conn is not None:
            self._paused = False
            self._conn.transport.resume_reading()
        while not self._complete:
            await self._wait()
        self._cancel_timer()
        chunks = self._chunks
        self.content = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        return self.content

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._paused and self._buffered < LOW_WATER and self._conn is not None:
                    self._paused = False
                    self._conn.transport.resume_reading()
                yield chunk
            elif self._complete:
                self._cancel_timer()
                return
            else:
                await self._wait()

    def close(self) -> None:
        """Done with the response: a connection still receiving it is aborted (never reused)."""
        if self._closed:
            return
        self._closed = True
        self._parser = None
        self._cancel_timer()
        self._chunks.clear()
        self._abort()

    def _abort(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: feeds received bytes to the response in progress."""

    def __init__(self, pool: _OriginPool, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.loop = loop
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  -- set by connection_made
        self.response: Response | None = None
        self.closed = False
        self.pooled = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:  # nothing was asked: a server talking out of turn is not reusable
            self.abort()
            return
        response.feed(data)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        response, self.response = self.response, None
        if response is not None:
            response.lost(exc)

    def start(self, request: bytes, read_s: float) -> Response:
        response = self.response = Response(self, read_s)
        self.transport.write(request)
        return response

    def finished(self, *, reusable: bool, paused: bool) -> None:
        """The response fully arrived: back to the pool, or closed."""
        self.response = None
        if reusable and not self.closed and not self.transport.is_closing():
            if paused:
                self.transport.resume_reading()
            self.pool.put(self)
        else:
            self.abort()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.abort()


class _Tunnel(asyncio.Protocol):
    """A connection to a proxy until its answer to ``CONNECT``: ``answer`` is the status once the head arrived;
    ``stray`` is set when bytes follow it (nothing may come before our TLS handshake)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, proxy: ProxyURL) -> None:
        self.answer: asyncio.Future[int] = loop.create_future()
        self.proxy = proxy
        self.buffer = b""
        self.stray = False

    def _fail(self, problem: str) -> None:
        self.answer.set_exception(ConnectError(f"the proxy {self.proxy.address} ({self.proxy.variable}) {problem}"))

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            self.stray = True
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_PROXY_HEAD:
                self._fail("sent an answer to CONNECT too large to be one")
            return
        version, _, rest = self.buffer[:end].partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            self._fail("did not answer CONNECT in HTTP/1.x")
        else:
            self.stray = end + 4 < len(self.buffer)
            self.answer.set_result(int(code))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self._fail("closed the connection before answering CONNECT")


def _absolute_form(request: bytes, prefix: bytes, extra: bytes) -> bytes:
    """A request for a forward proxy: the target as an absolute URL, then the proxy's headers after the request
    line."""
    space = request.index(b" ") + 1
    line_end = request.index(b"\r\n") + 2
    return b"".join((request[:space], prefix, request[space:line_end], extra, request[line_end:]))


class _OriginPool:
    """Idle keep-alive connections to one origin, most recently used last; ``proxy`` is the origin's route (fixed
    for the client's life, so the origin alone keys the pool), ``forward`` the absolute-form prefix and proxy
    headers when requests are forwarded (http origins through a proxy)."""

    def __init__(self, origin: Origin, max_idle: int, idle_expiry_s: float, proxy: ProxyURL | None = None) -> None:
        self.origin = origin
        self.proxy = proxy
        self.forward: tuple[bytes, bytes] | None = None
        if proxy is not None and origin.scheme == "http":
            extra = f"Proxy-Authorization: {proxy.authorization}\r\n" if proxy.authorization else ""
            self.forward = (f"http://{origin.host_header}".encode("latin-1"), extra.encode("latin-1"))
        self.idle: deque[_Connection] = deque()
        self.max_idle = max_idle
        self.idle_expiry_s = idle_expiry_s
        self.closed = False

    def take(self) -> _Connection | None:
        idle = self.idle
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            conn.pooled = False
            if conn.closed or conn.transport.is_closing():
                continue
            if now - conn.idle_since > self.idle_expiry_s:
                conn.abort()
                continue
            return conn
        return None

    def put(self, conn: _Connection) -> None:
        if self.closed:  # the client was closed while this response was arriving
            conn.abort()
            return
        conn.idle_since = time.monotonic()
        conn.pooled = True
        self.idle.append(conn)
        if len(self.idle) > self.max_idle:
            oldest = self.idle.popleft()
            oldest.pooled = False
            oldest.abort()

    def forget(self, conn: _Connection) -> None:
        """An idle connection the server closed leaves the pool at once (not at its next turn)."""
        if conn.pooled:
            conn.pooled = False
            self.idle.remove(conn)

    def close(self) -> None:
        self.closed = True
        while self.idle:
            conn = self.idle.pop()
            conn.pooled = False
            conn.abort()


class Client:
    """Keep-alive pools per origin; one per process (or per event loop)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, max_idle: int = MAX_IDLE_PER_ORIGIN,
                 idle_expiry_s: float = IDLE_EXPIRY_S) -> None:
        self._ssl = ssl_context
        self._pools: dict[tuple[str, str, int], _OriginPool] = {}
        self._max_idle = max_idle
        self._idle_expiry_s = idle_expiry_s
        settings = ProxySettings(os.environ)
        self._proxies = settings if settings.configured else None
        for proxy in settings.unusable():
            log.warning("%s: requests that would go through it will fail", proxy.unusable)

    def _pool(self, origin: Origin) -> _OriginPool:
        """A new origin's pool, its route through a proxy (or not) decided once."""
        proxy = None if self._proxies is None else self._proxies.for_origin(origin.scheme, origin.host, origin.port)
        self._pools[origin.key] = pool = _OriginPool(origin, self._max_idle, self._idle_expiry_s, proxy)
        return pool

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def _connect(self, pool: _OriginPool, connect_s: float) -> _Connection:
        if pool.proxy is not None:
            return await self._connect_via(pool, pool.proxy, connect_s)
        origin = pool.origin
        loop = asyncio.get_running_loop()
        tls = self._ssl_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(connect_s):
                _, conn = await loop.create_connection(lambda: _Connection(pool, loop), origin.host, origin.port,
                                                       ssl=tls, server_hostname=origin.host if tls else None)
        except TimeoutError:
            raise ConnectTimeout(f"connecting to {origin.host_header} took longer than {connect_s:g} s") from None
        except OSError as exc:
            raise ConnectError(f"cannot connect to {origin.host_header}: {exc.strerror or exc}") from None
        return conn

    async def _connect_via(self, pool: _OriginPool, proxy: ProxyURL, connect_s: float) -> _Connection:
        """A connection to the origin through the proxy: to the proxy itself when requests are forwarded, else a
        tunnel with TLS to the origin inside."""
        if proxy.unusable is not None:
            raise ConnectError(proxy.unusable)
        origin = pool.origin
        loop = asyncio.get_running_loop()
        proxy_tls = self._ssl_context() if proxy.scheme == "https" else None
        tunnel = origin.scheme == "https"
        try:
            async with asyncio.timeout(connect_s):
                try:
                    transport, protocol = await loop.create_connection(
                        (lambda: _Tunnel(loop, proxy)) if tunnel else (lambda: _Connection(pool, loop)), proxy.host,
                        proxy.port, ssl=proxy_tls, server_hostname=proxy.host if proxy_tls else None)
                except OSError as exc:
                    raise ConnectError(f"cannot connect to the proxy {proxy.address} ({proxy.variable}): "
                                       f"{exc.strerror or exc}") from None
                if not tunnel:
                    return protocol  # type: ignore[return-value]
                try:
                    return await self._open_tunnel(pool, proxy, transport, protocol)  # type: ignore[arg-type]
                except BaseException:
                    transport.abort()
                    raise
        except TimeoutError:
            raise ConnectTimeout(f"connecting to {origin.host_header} through the proxy {proxy.address} "
                                 f"({proxy.variable}) took longer than {connect_s:g} s") from None

    async def _open_tunnel(self, pool: _OriginPool, proxy: ProxyURL, transport: asyncio.Transport,
                           tunnel: _Tunnel) -> _Connection:
        origin = pool.origin
        auth = f"Proxy-Authorization: {proxy.authorization}\r\n" if proxy.authorization else ""
        transport.write(f"CONNECT {origin.authority} HTTP/1.1\r\nHost: {origin.authority}\r\n{auth}\r\n"
                        .encode("latin-1"))
        status = await tunnel.answer
        if not 200 <= status < 300:
            raise ProxyError(proxy, status, f"a tunnel to {origin.authority}")
        if tunnel.stray:
            raise ConnectError(f"the proxy {proxy.address} ({proxy.variable}) sent data after its answer to CONNECT")
        loop = asyncio.get_running_loop()
        conn = _Connection(pool, loop)
        try:
            tls = await loop.start_tls(transport, conn, self._ssl_context(), server_hostname=origin.host)
        except OSError as exc:
            raise ConnectError(f"TLS with {origin.host_header} through the proxy {proxy.address} ({proxy.variable}) "
                               f"failed: {exc.strerror or exc}") from None
        if tls is None:  # the connection closed during the handshake
            raise ConnectError(f"the proxy {proxy.address} ({proxy.variable}) closed the tunnel to {origin.authority}")
        conn.connection_made(tls)
        return conn

    async def send(self, origin: Origin, request: bytes, *, connect_s: float, read_s: float,
                   stream: bool = False) -> Response:
        """Send ``request`` (from ``build_request``) to ``origin``: the response with its head (``stream``) or
        its whole body read."""
        pool = self._pools.get(origin.key)
        if pool is None:
            pool = self._pool(origin)
        forward = pool.forward
        if forward is not None:
            request = _absolute_form(request, *forward)
        conn = pool.take()
        reused = conn is not None
        while True:
            if conn is None:
                conn = await self._connect(pool, connect_s)
            response = conn.start(request, read_s)
            try:
                if stream:
                    await response._head()
                else:
                    await response.aread()
            except _StaleConnection:
                response.close()
                if not reused:
                    raise
                conn, reused = None, False  # the server dropped an idle connection: once more on a fresh one
                continue
            except BaseException:
                response.close()
                raise
            if forward is not None and response.status == 407:
                response.close()
                assert pool.proxy is not None  # a forwarding pool has one
                raise ProxyError(pool.proxy, 407, f"to forward a request to {origin.host_header}")
            return response

    async def aclose(self) -> None:
        """Close the idle connections (responses in progress end with their callers)."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

