"""The upstream client through an egress proxy, against real local servers: a tiny CONNECT and absolute-form
forward proxy (plain or TLS) in front of plain and TLS origins; proxy authentication, refusals, NO_PROXY, keep-alive
through the proxy, unusable proxy settings; and the environment rules of ``proxy_env``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import os
import ssl
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicoe.gateway import http1
from aicoe.gateway.proxy_env import NoProxy, ProxySettings, ProxyURL, environment_proxies, parse_proxy_url
from tests.raw_http import RawRequest, RawServer, response
from tests.test_gateway_http1 import self_signed

pytestmark = pytest.mark.anyio
OK = b'{"ok": true}'
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(params=[pytest.param("asyncio", id="asyncio"),
                        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop")])
def anyio_backend(request: pytest.FixtureRequest) -> object:
    return request.param  # start_tls over a proxy's connection differs between the two loops


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower() in PROXY_VARIABLES or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)


@dataclass
class ForwardProxy:
    """A forward proxy on 127.0.0.1: ``CONNECT host:port`` opens a tunnel to the origin; an absolute-form request
    is sent on (in origin form, without the proxy's headers) over one origin connection per client connection,
    whose answers are relayed as they come. ``heads`` records each request line and its headers, with the index of
    the client connection; ``require`` is the Proxy-Authorization value demanded (a 407 otherwise)."""

    tls: ssl.SSLContext | None = None
    require: str | None = None
    heads: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        index, self.connections = self.connections, self.connections + 1
        upstream: asyncio.StreamWriter | None = None
        try:
            while True:
                try:
                    line, headers, body = await self._read(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.heads.append((index, line, headers))
                if self.require is not None and headers.get("proxy-authorization") != self.require:
                    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n"
                                 b"Content-Length: 0\r\n\r\n")
                    await writer.drain()
                    return
                method, target, version = line.split(" ")
                if method == "CONNECT":
                    host, _, port = target.rpartition(":")
                    origin_reader, upstream = await asyncio.open_connection(host.strip("[]"), int(port))
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    await asyncio.gather(self._pipe(reader, upstream), self._pipe(origin_reader, writer))
                    return
                url = urlsplit(target)
                if upstream is None:
                    origin_reader, upstream = await asyncio.open_connection(url.hostname, url.port or 80)
                    self._relay(origin_reader, writer)
                relayed = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k != "proxy-authorization")
                origin_form = url.path + (f"?{url.query}" if url.query else "")
                upstream.write(f"{method} {origin_form} {version}\r\n{relayed}\r\n".encode("latin-1") + body)
        finally:
            if upstream is not None:
                upstream.close()
            writer.close()
            self._tasks.discard(task)

    def _relay(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._pipe(source, sink))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
        return line, headers, await reader.readexactly(int(headers.get("content-length", "0")))

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()


@dataclass
class Certificates:
    client: ssl.SSLContext  # trusts the self-signed certificate
    server: ssl.SSLContext  # serves it (origins and TLS proxies alike: all are 127.0.0.1)


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    cert, key = self_signed(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return Certificates(ssl.create_default_context(cafile=str(cert)), server)


@pytest.fixture
async def started() -> AsyncIterator[list[RawServer | ForwardProxy]]:
    servers: list[RawServer | ForwardProxy] = []
    yield servers
    for server in servers:
        await server.close()


@pytest.fixture
def origin(started) -> Callable[..., Awaitable[RawServer]]:
    async def start(tls: ssl.SSLContext | None = None) -> RawServer:
        async def answer(request: RawRequest, writer: asyncio.StreamWriter) -> None:
            writer.write(response(OK))

        started.append(server := await RawServer(answer, tls).start())
        return server

    return start


@pytest.fixture
def proxy(started) -> Callable[..., Awaitable[ForwardProxy]]:
    async def start(tls: ssl.SSLContext | None = None, require: str | None = None) -> ForwardProxy:
        started.append(server := await ForwardProxy(tls, require).start())
        return server

    return start


async def post(client: http1.Client, url: str, *, connect_s: float = 2.0) -> http1.Response:
    target_origin, target = http1.parse_url(url)
    request = http1.build_request("POST", target_origin, target, (("X-Team", "coe"),), b"{}")
    return await client.send(target_origin, request, connect_s=connect_s, read_s=5.0)


@contextlib.asynccontextmanager
async def client_with(tls: ssl.SSLContext | None = None) -> AsyncIterator[http1.Client]:
    client = http1.Client(ssl_context=tls)
    try:
        yield client
    finally:
        await client.aclose()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- through a proxy ----------------------------------------------------------------------------------------------


async def test_https_origin_through_a_tunnel_with_credentials_and_keep_alive(origin, proxy, certificates,
                                                                             monkeypatch) -> None:
    server = await origin(certificates.server)
    forward = await proxy(require=basic("svc@corp", "p:ss w"))
    monkeypatch.setenv("HTTPS_PROXY", f"http://svc%40corp:p%3Ass%20w@127.0.0.1:{forward.port}")
    async with client_with(certificates.client) as client:
        for _ in range(3):
            answer = await post(client, f"{server.url}/v1/chat")
            assert (answer.status, answer.content) == (200, OK)
    authority = f"127.0.0.1:{server.port}"
    assert forward.heads == [(0, f"CONNECT {authority} HTTP/1.1",
                              {"host": authority, "proxy-authorization": basic("svc@corp", "p:ss w")})]
    assert (forward.connections, server.connections) == (1, 1)
    assert [(r.target, r.headers["host"], "proxy-authorization" in r.headers) for r in server.requests] == [
        ("/v1/chat", authority, False)] * 3


async def test_http_origin_through_a_proxy_in_absolute_form_with_keep_alive(origin, proxy, monkeypatch) -> None:
    server = await origin()
    forward = await proxy(require=basic("u", "k"))
    monkeypatch.setenv("http_proxy", f"u:k@127.0.0.1:{forward.port}")  # no scheme: an http proxy
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # for https origins only
    async with client_with() as client:
        for _ in range(2):
            assert (await post(client, f"{server.url}/v1/chat?x=1")).content == OK
    line = f"POST http://127.0.0.1:{server.port}/v1/chat?x=1 HTTP/1.1"
    assert [(index, seen) for index, seen, _ in forward.heads] == [(0, line), (0, line)]
    assert forward.heads[0][2] == {"host": f"127.0.0.1:{server.port}", "proxy-authorization": basic("u", "k"),
                                   "content-type": "application/json", "content-length": "2",
                                   "accept-encoding": "identity", "x-team": "coe"}
    assert [(r.connection, r.target) for r in server.requests] == [(0, "/v1/chat?x=1"), (0, "/v1/chat?x=1")]


async def test_a_tls_proxy_carries_tunnels_and_forwarded_requests(origin, proxy, certificates, monkeypatch) -> None:
    secure, plain = await origin(certificates.server), await origin()
    forward = await proxy(tls=certificates.server)
    monkeypatch.setenv("ALL_PROXY", forward.url)
    async with client_with(certificates.client) as client:
        for _ in range(2):
            assert (await post(client, secure.url)).content == OK
            assert (await post(client, plain.url)).content == OK
    assert [line.split(" ")[:2] for _, line, _ in forward.heads] == [
        ["CONNECT", f"127.0.0.1:{secure.port}"], ["POST", f"http://127.0.0.1:{plain.port}/"],
        ["POST", f"http://127.0.0.1:{plain.port}/"]]
    assert (forward.connections, secure.connections, plain.connections) == (2, 1, 1)


async def test_a_proxy_refusing_is_a_proxy_error_with_its_status_and_no_credentials(origin, proxy, certificates,
                                                                                    monkeypatch) -> None:
    secure, plain = await origin(certificates.server), await origin()
    forward = await proxy(require=basic("right", "secret"))
    monkeypatch.setenv("ALL_PROXY", f"http://wrong:hunter2@127.0.0.1:{forward.port}")
    async with client_with(certificates.client) as client:
        for url, refused in ((secure.url, "a tunnel to"), (plain.url, "to forward a request to")):
            with pytest.raises(http1.ProxyError) as caught:
                await post(client, url)
            assert caught.value.status == 407
            assert str(caught.value) == (f"the proxy 127.0.0.1:{forward.port} (ALL_PROXY) refused {refused} "
                                         f"127.0.0.1:{urlsplit(url).port}: 407 Proxy Authentication Required")
    assert [line.split(" ")[0] for _, line, _ in forward.heads] == ["CONNECT", "POST"]
    assert (secure.connections, plain.connections) == (0, 0)


async def test_the_origin_certificate_is_verified_inside_the_tunnel(origin, proxy, certificates,
                                                                   monkeypatch) -> None:
    server = await origin(certificates.server)
    forward = await proxy()
    monkeypatch.setenv("HTTPS_PROXY", forward.url)
    async with client_with() as client:  # the system's trust store: the self-signed origin is refused
        with pytest.raises(http1.ConnectError) as caught:
            await post(client, server.url)
    assert str(caught.value).startswith(f"TLS with 127.0.0.1:{server.port} through the proxy "
                                        f"127.0.0.1:{forward.port} (HTTPS_PROXY) failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert [line.split(" ")[0] for _, line, _ in forward.heads] == ["CONNECT"]


async def test_no_proxy_entries_go_direct(origin, proxy, certificates, monkeypatch) -> None:
    server = await origin(certificates.server)
    forward = await proxy()
    monkeypatch.setenv("HTTPS_PROXY", forward.url)
    monkeypatch.setenv("NO_PROXY", f"example.com, 127.0.0.1:{server.port}")
    async with client_with(certificates.client) as client:
        assert (await post(client, server.url)).content == OK
    monkeypatch.setenv("NO_PROXY", "127.0.0.1:1,10.0.0.0/8")  # another port, another network: proxied
    async with client_with(certificates.client) as client:
        assert (await post(client, server.url)).content == OK
    monkeypatch.setenv("no_proxy", "")  # set but empty: unsets NO_PROXY
    monkeypatch.setenv("NO_PROXY", "*")
    async with client_with(certificates.client) as client:
        assert (await post(client, server.url)).content == OK
    assert (forward.connections, server.connections) == (2, 3)


async def test_an_unusable_proxy_is_logged_and_fails_the_requests_it_would_carry(origin, caplog,
                                                                                 monkeypatch) -> None:
    server = await origin()
    monkeypatch.setenv("ALL_PROXY", "socks5://user:secret@proxy.example:1080")
    monkeypatch.setenv("no_proxy", "localhost")
    with caplog.at_level(logging.WARNING, logger="aicoe.gateway.http1"):
        async with client_with() as client:
            with pytest.raises(http1.ConnectError) as caught:
                await post(client, server.url)
            direct = await post(client, f"http://localhost:{server.port}/")
    message = "ALL_PROXY names a socks5:// proxy; only http:// and https:// proxies are supported"
    assert str(caught.value) == message
    assert caplog.messages == [f"{message}: requests that would go through it will fail"]
    assert direct.content == OK and server.connections == 1


async def test_proxy_connection_failures(monkeypatch) -> None:
    gone = await RawServer(lambda request, writer: asyncio.sleep(0)).start()
    await gone.close()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{gone.port}")
    async with client_with() as client:
        with pytest.raises(http1.ConnectError, match=f"^cannot connect to the proxy 127.0.0.1:{gone.port} "):
            await post(client, "https://upstream.example/v1")


@pytest.mark.parametrize(("answer", "problem"), [
    (b"", "closed the connection before answering CONNECT"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "did not answer CONNECT in HTTP/1.x"),
    (b"HTTP/1.1 200 OK\r\n\r\nearly", "sent data after its answer to CONNECT"),
], ids=["closes", "not-http", "data-after-head"])
async def test_a_misbehaving_proxy_is_a_connect_error(answer, problem, monkeypatch) -> None:
    async def misbehave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    server = await asyncio.start_server(misbehave, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{port}")
    try:
        async with client_with() as client:
            with pytest.raises(http1.ConnectError) as caught:
                await post(client, "https://upstream.example/v1")
    finally:
        server.close()
    assert type(caught.value) is http1.ConnectError
    assert str(caught.value) == f"the proxy 127.0.0.1:{port} (HTTPS_PROXY) {problem}"


async def test_the_connect_timeout_covers_the_proxy_answer(monkeypatch) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")
    try:
        async with client_with() as client:
            with pytest.raises(http1.ConnectTimeout) as caught:
                await post(client, "https://upstream.example/v1", connect_s=0.2)
    finally:
        server.close()
    assert str(caught.value) == (f"connecting to upstream.example through the proxy 127.0.0.1:{port} (https_proxy) "
                                 "took longer than 0.2 s")


# --- the environment's rules --------------------------------------------------------------------------------------

ENVIRONMENTS = [
    {"HTTPS_PROXY": "http://a:1", "https_proxy": "http://b:2"},
    {"HTTPS_PROXY": "http://a:1", "https_proxy": ""},
    {"Https_Proxy": "http://c:3", "ALL_PROXY": "socks5://d", "NO_PROXY": "x"},
    {"HTTP_PROXY": "http://e:5", "REQUEST_METHOD": "GET"},
    {"HTTP_PROXY": "http://e:5", "http_proxy": "http://f:6", "REQUEST_METHOD": "GET"},
    {"no_proxy": "*", "PROXY": "ignored", "X_PROXY": ""},
]


@pytest.mark.parametrize("environ", ENVIRONMENTS, ids=[f"env{i}" for i in range(len(ENVIRONMENTS))])
def test_environment_precedence_is_urllibs(environ, monkeypatch) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    found = environment_proxies(os.environ)
    assert {key: value for key, (_, value) in found.items()} == urllib.request.getproxies_environment()
    assert all(os.environ[name] == value for name, value in found.values())


def test_the_variable_a_proxy_came_from_is_named() -> None:
    found = environment_proxies({"HTTPS_PROXY": "http://a:1", "https_proxy": "http://b:2", "All_Proxy": "c:3"})
    assert found == {"https": ("https_proxy", "http://b:2"), "all": ("All_Proxy", "c:3")}


def test_proxy_urls() -> None:
    assert parse_proxy_url("HTTPS_PROXY", "proxy.corp:3128") == ProxyURL("HTTPS_PROXY", "http", "proxy.corp", 3128,
                                                                       None)
    assert parse_proxy_url("ALL_PROXY", "HTTPS://u%3A1:p%40@[fd00::1]/ignored") == ProxyURL(
        "ALL_PROXY", "https", "fd00::1", 443, basic("u:1", "p@"))
    assert parse_proxy_url("x", "http://u@h").authorization == basic("u", "")
    assert parse_proxy_url("x", "https://[::1]:8443").address == "[::1]:8443"
    for value, problem in (("socks5h://h:1080", "x names a socks5h:// proxy; only http:// and https:// proxies are "
                                                "supported"),
                           ("http://h:99999", "x is not a valid proxy URL (host and port)"),
                           ("http://:8080", "x is not a valid proxy URL (host and port)")):
        assert parse_proxy_url("x", value).unusable == problem


@pytest.mark.parametrize(("rules", "host", "port", "direct"), [
    ("example.com", "example.com", 443, True),
    ("example.com", "API.example.com", 443, True),
    ("example.com", "badexample.com", 443, False),
    (".example.com", "example.com", 443, True),
    ("*.example.com", "a.b.example.com", 80, True),
    ("Example.COM.", "example.com.", 80, True),
    ("example.com:8443", "example.com", 8443, True),
    ("example.com:8443", "example.com", 443, False),
    ("10.1.2.3", "10.1.2.3", 443, True),
    ("10.1.2.3", "10.1.2.4", 443, False),
    ("10.0.0.0/8", "10.200.1.1", 443, True),
    ("10.0.0.0/8:443", "10.200.1.1", 80, False),
    ("10.0.0.0/8", "ten.example", 443, False),
    ("::1", "::1", 80, True),
    ("[::1]:8080", "::1", 8080, True),
    ("[::1]:8080", "::1", 80, False),
    ("fd00::/8", "fd12::5", 443, True),
    ("[fd00::/8]:443", "fd12::5", 443, True),
    ("a.com, *, b.com", "anything.example", 1, True),
    ("", "example.com", 443, False),
    ("bogus/99, example.com:port", "example.com", 443, False),
], ids=lambda value: str(value))
def test_no_proxy_rules(rules, host, port, direct) -> None:
    assert NoProxy(rules).matches(host, port) is direct


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
# A top-level label is alphabetic, so no generated name (or subdomain of it) reads as an IPv4 address ("0.0.0.0"),
# which NO_PROXY matches as an address, never as a domain suffix.
DOMAIN = st.tuples(st.lists(LABEL, max_size=2), st.from_regex(r"[a-z]{2,6}", fullmatch=True)).map(
    lambda parts: ".".join([*parts[0], parts[1]]))


@given(domain=DOMAIN, sub=LABEL, prefix=st.sampled_from(["", ".", "*."]), port=st.integers(1, 65535))
def test_a_domain_rule_matches_the_domain_and_subdomains_only(domain, sub, prefix, port) -> None:
    rules = NoProxy(prefix + domain)
    assert rules.matches(domain, port) and rules.matches(f"{sub}.{domain}", port)
    assert not rules.matches(sub + domain, port)


@given(network=st.ip_addresses(v=4).flatmap(lambda a: st.integers(0, 32).map(lambda n: f"{a}/{n}")),
       address=st.ip_addresses(v=4))
def test_a_cidr_rule_matches_exactly_its_addresses(network, address) -> None:
    assert NoProxy(network).matches(str(address), 443) is (address in ipaddress.ip_network(network, strict=False))


def test_each_scheme_uses_its_variable_then_all_proxy_then_no_proxy() -> None:
    settings = ProxySettings({"HTTP_PROXY": "http://h:1", "ALL_PROXY": "http://a:2", "NO_PROXY": "local"})
    assert settings.configured and settings.unusable() == []
    assert settings.for_origin("http", "x.example", 80).address == "h:1"  # type: ignore[union-attr]
    assert settings.for_origin("https", "x.example", 443).address == "a:2"  # type: ignore[union-attr]
    assert settings.for_origin("https", "svc.local", 443) is None
    assert not ProxySettings({"NO_PROXY": "*"}).configured
