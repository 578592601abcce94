"""The gateway's HTTP/1.1 upstream client against real local servers: keep-alive reuse, body framings, a server
closing connections, timeouts, cancellation, streaming with flow control, TLS; and request building."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aicoe.gateway import http1
from tests.raw_http import RawRequest, RawServer, head, response

pytestmark = pytest.mark.anyio
OK = b'{"ok": true}'

Handler = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[RawServer]]]:
    servers: list[RawServer] = []

    async def start(handler: Handler, tls: ssl.SSLContext | None = None) -> RawServer:
        servers.append(server := await RawServer(handler, tls).start())
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def client() -> AsyncIterator[http1.Client]:
    c = http1.Client()
    yield c
    await c.aclose()


async def answer_ok(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    writer.write(response(OK))


async def post(client: http1.Client, url: str, body: bytes = b"{}", *, read_s: float = 5.0, stream: bool = False,
               headers: tuple[tuple[str, str], ...] = ()) -> http1.Response:
    origin, target = http1.parse_url(url)
    request = http1.build_request("POST", origin, target, headers, body)
    return await client.send(origin, request, connect_s=2.0, read_s=read_s, stream=stream)


# --- requests and keep-alive --------------------------------------------------------------------------------------


async def test_request_bytes_and_keep_alive_reuse(serve, client) -> None:
    server = await serve(answer_ok)
    headers = (("X-Team", "coe"), ("Authorization", "Bearer k"), ("content-length", "999"), ("Host", "evil"))
    for _ in range(3):
        answer = await post(client, f"{server.url}/v1/chat?x=1", b'{"a": 1}', headers=headers)
        assert (answer.status, answer.content, answer.headers["content-type"]) == (200, OK, "application/json")
    assert server.connections == 1
    assert [(r.connection, r.number) for r in server.requests] == [(0, 0), (0, 1), (0, 2)]
    seen = server.requests[0]
    assert (seen.method, seen.target, seen.body) == ("POST", "/v1/chat?x=1", b'{"a": 1}')
    assert seen.headers == {"host": f"127.0.0.1:{server.port}", "content-type": "application/json",
                            "content-length": "8", "accept-encoding": "identity", "x-team": "coe",
                            "authorization": "Bearer k"}


async def test_concurrent_requests_use_one_connection_each_then_share_them(serve, client) -> None:
    async def slow(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        writer.write(response(OK))

    server = await serve(slow)
    assert {(await a).content for a in [asyncio.ensure_future(post(client, server.url)) for _ in range(5)]} == {OK}
    assert server.connections == 5
    await asyncio.gather(*(post(client, server.url) for _ in range(5)))
    assert server.connections == 5  # all five came back to the pool


async def test_connection_close_is_honoured(serve, client) -> None:
    async def closing(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(response(OK, extra="Connection: close\r\n"))
        await writer.drain()
        writer.close()

    server = await serve(closing)
    for _ in range(2):
        assert (await post(client, server.url)).content == OK
    assert server.connections == 2


# --- body framings ------------------------------------------------------------------------------------------------


async def test_chunked_until_close_empty_and_interim_responses(serve, client) -> None:
    async def framings(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.target == "/chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        elif request.target == "/interim":
            writer.write(b"HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\n" + response(OK))
        elif request.target == "/empty":
            writer.write(b"HTTP/1.1 204 No Content\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n")
        else:  # no length: the body ends when the server closes
            writer.write(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
            await writer.drain()
            writer.close()

    server = await serve(framings)
    assert (await post(client, f"{server.url}/chunked")).content == b"hello world"
    interim = await post(client, f"{server.url}/interim")
    assert (interim.status, interim.content, "x-early" in interim.headers) == (200, OK, False)
    empty = await post(client, f"{server.url}/empty")
    assert (empty.status, empty.content, empty.headers["set-cookie"]) == (204, b"", "a=1, b=2")
    assert server.connections == 1
    assert (await post(client, f"{server.url}/eof")).content == b"until the end"
    assert (await post(client, f"{server.url}/chunked")).content == b"hello world"
    assert server.connections == 2  # an until-close body's connection is never reused


async def test_error_statuses_are_responses(serve, client) -> None:
    async def failing(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(response(b'{"error": {}}', status="503 Service Unavailable", extra="Retry-After: 2\r\n"))

    server = await serve(failing)
    answer = await post(client, server.url)
    assert (answer.status, answer.headers["retry-after"], answer.content) == (503, "2", b'{"error": {}}')


async def test_invalid_response_is_a_protocol_error_and_not_reused(serve, client) -> None:
    async def garbage(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SMTP ready\r\n\r\n" if request.connection == 0 else response(OK))

    server = await serve(garbage)
    with pytest.raises(http1.RemoteProtocolError):
        await post(client, server.url)
    assert (await post(client, server.url)).content == OK
    assert server.connections == 2


# --- a server closing connections ---------------------------------------------------------------------------------


async def test_a_reused_connection_closed_before_answering_is_retried_once_on_a_fresh_one(serve, client) -> None:
    async def drops_second(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.connection == 0 and request.number == 1:
            writer.close()  # as if the server had closed the idle connection as the request went out
            return
        writer.write(response(OK))

    server = await serve(drops_second)
    assert (await post(client, server.url)).content == OK
    assert (await post(client, server.url)).content == OK
    assert [(r.connection, r.number) for r in server.requests] == [(0, 0), (0, 1), (1, 0)]


async def test_a_fresh_connection_closed_before_answering_is_not_retried(serve, client) -> None:
    async def drops(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await serve(drops)
    with pytest.raises(http1.RemoteProtocolError):
        await post(client, server.url)
    assert len(server.requests) == 1


async def test_a_connection_closed_mid_response_is_not_retried(serve, client) -> None:
    async def cut(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.number == 0:
            writer.write(response(OK))
        else:
            writer.write(head(100) + b'{"partial"')
            await writer.drain()
            writer.close()

    server = await serve(cut)
    await post(client, server.url)
    with pytest.raises(http1.RemoteProtocolError, match="mid-response"):
        await post(client, server.url)
    assert len(server.requests) == 2


async def test_an_idle_connection_the_server_closed_leaves_the_pool(serve, client) -> None:
    async def then_close(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(response(OK))
        await writer.drain()
        writer.close()  # without saying Connection: close

    server = await serve(then_close)
    await post(client, server.url)
    await asyncio.sleep(0.05)
    await post(client, server.url)
    assert [(r.connection, r.number) for r in server.requests] == [(0, 0), (1, 0)]


async def test_connect_error(client) -> None:
    server = await RawServer(answer_ok).start()
    url = server.url
    await server.close()
    with pytest.raises(http1.ConnectError):
        await post(client, url)


# --- timeouts and cancellation ------------------------------------------------------------------------------------


async def test_read_timeout_counts_silence_not_the_whole_answer(serve, client) -> None:
    async def trickle(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.target == "/stall":
            await asyncio.sleep(5)
        writer.write(head(6))
        for byte in b"abcdef":
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))
            await writer.drain()

    server = await serve(trickle)
    assert (await post(client, f"{server.url}/trickle", read_s=0.3)).content == b"abcdef"  # 0.6 s in all
    started = asyncio.get_running_loop().time()
    with pytest.raises(http1.ReadTimeout):
        await post(client, f"{server.url}/stall", read_s=0.3)
    assert 0.25 < asyncio.get_running_loop().time() - started < 2.0
    assert await server.wait_client_close()  # the timed-out connection was aborted


async def test_cancelling_the_caller_aborts_the_connection(serve, client) -> None:
    async def stall(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.connection == 0:
            await asyncio.sleep(30)
        writer.write(response(OK))

    server = await serve(stall)
    task = asyncio.ensure_future(post(client, server.url))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await server.wait_client_close()
    assert (await post(client, server.url)).content == OK
    assert server.connections == 2


# --- streams ------------------------------------------------------------------------------------------------------


async def test_stream_chunks_then_reuse_and_close_mid_stream_aborts(serve, client) -> None:
    async def chunks(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (b"one", b"two", b"three"):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.2 if request.target == "/slow" else 0.01)
        writer.write(b"0\r\n\r\n")

    server = await serve(chunks)
    streamed = await post(client, server.url, stream=True)
    assert streamed.status == 200
    assert b"".join([part async for part in streamed.aiter_bytes()]) == b"onetwothree"
    streamed.close()
    slow = await post(client, f"{server.url}/slow", stream=True)
    assert server.connections == 1
    assert await anext(slow.aiter_bytes()) == b"one"
    slow.close()
    assert await server.wait_client_close()
    assert (await post(client, server.url)).content == b"onetwothree"
    assert server.connections == 2


async def test_a_large_stream_consumed_slowly_arrives_whole_and_holds_the_server_back(serve, client) -> None:
    block = bytes(range(256)) * 256  # 64 KiB
    total = 256  # 16 MiB: more than the sockets' buffers hold, so a paused reader stops the writer
    written = [0]

    async def large(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head(len(block) * total, content_type="application/octet-stream"))
        for _ in range(total):
            writer.write(block)
            await writer.drain()
            written[0] += 1

    server = await serve(large)
    streamed = await post(client, server.url, stream=True, read_s=5.0)
    parts = streamed.aiter_bytes()
    received = bytearray(await anext(parts))
    await asyncio.sleep(0.3)
    assert written[0] < total  # reading paused: the client did not buffer the whole body
    async for part in parts:
        received += part
    assert bytes(received) == block * total
    written[0] = 0
    assert (await post(client, server.url, stream=False)).content == block * total  # no pause when reading all
    assert server.connections == 1


# --- TLS ----------------------------------------------------------------------------------------------------------


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_tls_with_a_trusted_certificate_and_refusal_of_an_untrusted_one(serve, tmp_path) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server = await serve(answer_ok, server_tls)
    assert server.url.startswith("https://")

    trusting = http1.Client(ssl_context=ssl.create_default_context(cafile=str(cert)))
    for _ in range(2):
        assert (await post(trusting, server.url)).content == OK
    assert server.connections == 1
    await trusting.aclose()

    default = http1.Client()
    with pytest.raises(http1.ConnectError):
        await post(default, server.url)
    await default.aclose()


# --- building requests --------------------------------------------------------------------------------------------


def test_parse_url_origins_targets_and_query() -> None:
    origin, target = http1.parse_url("https://example.com/openai/deployments/m/chat", (("api-version", "2024 10"),))
    assert (origin.scheme, origin.host, origin.port, origin.host_header) == ("https", "example.com", 443,
                                                                            "example.com")
    assert target == "/openai/deployments/m/chat?api-version=2024+10"
    origin, target = http1.parse_url("http://[::1]:8080?a=b", (("c", "d"),))
    assert (origin.host, origin.port, origin.host_header, target) == ("::1", 8080, "[::1]:8080", "/?a=b&c=d")
    for bad in ("ftp://example.com/", "/relative", "http://example.com:99999/", "http://example.com/a b"):
        with pytest.raises(http1.LocalProtocolError):
            http1.parse_url(bad)


def test_header_injection_is_refused() -> None:
    origin, target = http1.parse_url("http://example.com/v1")
    for headers in ((("X-A", "ok\r\nX-Injected: 1"),), (("Bad Name", "v"),), (("X-B", "nul\0"),)):
        with pytest.raises(http1.LocalProtocolError):
            http1.build_request("POST", origin, target, headers, b"{}")
    built = http1.build_request("POST", origin, target, (("X-A", "1"),), b"{}")
    assert built == (b"POST /v1 HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2\r\nAccept-Encoding: identity\r\nX-A: 1\r\n\r\n{}")
