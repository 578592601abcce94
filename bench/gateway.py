"""Benchmark: the GenAI gateway's overhead, sustained rate and memory — direct to a fixed-latency upstream, through
aicoe, and through LiteLLM's proxy, in one run.

Starts, each in its own process:

* the upstream: ``aicoe.gateway.stub_upstream`` (OpenAI-compatible, answers every chat request after a fixed
  ``--latency-ms``), served by this script in a child process so it never competes with the load generator's loop;
* aicoe: ``aicoe gateway serve --workers 1`` on a fresh SQLite database (or ``--database-url``) configured through
  the gateway's services: one provider (the stub), one route (alias ``bench-chat``) and two virtual keys with no
  limits or budgets and logging off: one under an empty guardrail policy, one under a policy with PII (anonymise),
  secrets (block) and prompt injection (block) on input;
* LiteLLM's proxy (``bench/gateway_litellm.yaml``: the same model, a master key, no database, no guardrails, message
  logging off, one worker) in its own virtual environment ``bench/.venv-litellm``, created on first run.

Every request is the same non-streaming chat completion: a system message and a ~2 KB user message (a support
ticket naming a person, an e-mail address, a phone number and an IBAN; no secret, no injection), ``max_tokens`` 64.
The load generator is a thin asyncio HTTP/1.1 client on keep-alive connections (``Connection``: httpx2 would cost
more CPU per request than the proxies measured). Measured per target:

* latency of a single sequential client over ``--requests`` requests (after a warm-up) and the latency the proxy
  adds, p50 and p99 (the proxy's percentile minus the direct one);
* the sustained rate at fixed concurrency (``--concurrency``, closed loop for ``--duration`` s per level): requests
  per second completed with no error; the best error-free level is reported, with the proxy's CPU time per request
  (``/proc``, all threads) and the rate one fully used core would sustain at that cost: on a machine shared with
  other work the CPU figures are the steadier ones;
* RSS of the proxy's process tree (``/proc/<pid>/statm``, as VmRSS) at idle after start-up and after
  ``--rss-requests`` requests in total (``--litellm-rss-requests`` for LiteLLM: at its 40-110 requests/s,
  100,000 take 15-40 minutes).

Prints a table, the ratios and each goal of the issue (added p50 <= 1 ms and p99 <= 5 ms without guardrails,
p50 <= 3 ms with them; >= 20x LiteLLM's sustained rate; idle RSS < 150 MB and growth < 50 MB over 100,000
requests) with PASS/FAIL; writes the figures to ``bench/out/gateway.json``.

    .venv/bin/python bench/gateway.py [--requests 2000] [--concurrency 32] [--duration 10] [--latency-ms 5]
        [--rss-requests 100000] [--litellm-rss-requests 100000] [--targets aicoe,litellm] [--database-url URL]
        [--litellm-venv bench/.venv-litellm] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx2

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-litellm"
LITELLM_CONFIG = HERE / "gateway_litellm.yaml"
OUT = HERE / "out"
ALIAS = "bench-chat"
UPSTREAM_MODEL = "bench-upstream"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
SENT: dict[tuple[str, int], int] = {}  # requests sent per server, for the memory reading after a fixed number
GUARD_RULES = [
    {"id": "pii", "kind": "pii", "action": "anonymise", "direction": "input", "params": {}},
    {"id": "secrets", "kind": "secrets", "action": "block", "direction": "input", "params": {}},
    {"id": "injection", "kind": "injection", "action": "block", "direction": "input", "params": {"threshold": 0.8}},
]
TICKET = (
    "Ticket 48213 from Jane Doe (jane.doe@example.com, phone +44 20 7946 0958), account IBAN "
    "GB82 WEST 1234 5698 7654 32. She writes: I was charged twice for the March invoice and would like the second "
    "payment refunded to the same account. "
)
FILLER = (
    "The order history shows two identical card payments on the same afternoon, a few minutes apart, both for the "
    "quarterly subscription. The customer has been with us for six years and rates the service highly. "
)


PROFILED = """
import cProfile, sys
from aicoe.gateway.serve import main
out, args = sys.argv[1], sys.argv[2:]
profiler = cProfile.Profile()
try:
    profiler.runcall(main, args)
except SystemExit:
    pass
finally:
    profiler.dump_stats(out)
"""


def prompt_body(model: str) -> bytes:
    """The one request every target gets: a ~2 KB ticket with some personal data, to summarise."""
    text = TICKET
    while len(text) < 2048:
        text += FILLER
    return json.dumps({"model": model, "max_tokens": 64, "messages": [
        {"role": "system", "content": "You summarise support tickets in one sentence."},
        {"role": "user", "content": text[:2048]},
    ]}).encode()


# --- processes --------------------------------------------------------------------------------------------------

def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn may run a worker under a supervisor)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(parents.get(current, []))
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of the process tree, MB (VmRSS, as ``ps`` and psutil report it)."""
    total_kb = 0
    for p in _tree(pid):
        try:
            total_kb += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE_KB
        except OSError:
            continue
    return total_kb / 1024


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process tree."""
    ticks = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_ready(server: Server, url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if httpx2.get(url, timeout=1.0).status_code < 500:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    tail = server.log.read_text(errors="replace")[-3000:] if server.log.exists() else ""
    server.stop()
    raise SystemExit(f"{server.name} did not become ready at {url} within {timeout_s:.0f} s; log tail:\n{tail}")


@contextmanager
def serve(name: str, command: list[str], env: dict[str, str | None], ready_url: str, workdir: Path,
          timeout_s: float = 120.0) -> Iterator[Server]:
    """Run ``command`` (``env`` added to this environment; a None value removes the variable) until ready."""
    log = workdir / f"{name}.log"
    merged = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=merged, stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
                                   start_new_session=True)
    server = Server(name, process, log)
    try:
        _wait_ready(server, ready_url, timeout_s)
        yield server
    finally:
        server.stop()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_stub(latency_ms: float, port: int) -> None:
    """Child process: the fixed-latency upstream until interrupted. uvicorn binds the port itself, so accepted
    connections get TCP_NODELAY (a socket made without IPPROTO_TCP does not, and Nagle's algorithm then holds
    each response body until the client's delayed ACK: +40 ms)."""
    from collections import deque

    import uvicorn

    from aicoe.gateway.stub_upstream import make_stub_app

    app = make_stub_app(latency_ms=latency_ms)
    app.state.stub.requests = deque(maxlen=16)  # it records every request: bounded here, for 100,000s of them
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


# --- aicoe and LiteLLM ----------------------------------------------------------------------------------------------

def aicoe_env(workdir: Path, database_url: str | None) -> dict[str, str]:
    return {"AICOE_ENV": "production", "AICOE_DATA_DIR": str(workdir / "data"),
            "AICOE_DATABASE_URL": database_url or f"sqlite:///{workdir / 'aicoe.db'}",
            "AICOE_SECRET_KEY": secrets.token_urlsafe(48), "AICOE_LOG_LEVEL": "WARNING"}


def configure_aicoe(env: dict[str, str], upstream_url: str) -> dict[str, str]:
    """Migrate the database and create the provider, route, policies and keys through the gateway's services;
    returns the raw keys by label ("plain": empty policy, "guarded": PII + secrets + injection)."""
    from aicoe.config import Settings
    from aicoe.core import migrate
    from aicoe.core.db import make_engine, make_sessionmaker, session_scope
    from aicoe.gateway import keys, policies, providers, schemas
    from aicoe.org import schemas as org_schemas
    from aicoe.org import service as org

    settings = Settings(env="production", data_dir=Path(env["AICOE_DATA_DIR"]),
                        database_url=env["AICOE_DATABASE_URL"], secret_key=env["AICOE_SECRET_KEY"])
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    raw: dict[str, str] = {}
    try:
        with session_scope(make_sessionmaker(engine, settings=settings)) as session:
            unit = org.create_unit(session, None, org_schemas.BusinessUnitCreate(code="BENCH", name="Benchmark"))
            provider = providers.create_provider(session, None, settings, schemas.ProviderCreate(
                name="bench-stub", kind="openai_compatible", base_url=upstream_url, api_key="sk-bench-upstream",
                max_retries=0))
            providers.create_route(session, None, schemas.RouteCreate(
                alias=ALIAS, provider_id=provider.id, upstream_model=UPSTREAM_MODEL, price_input_per_mtok="1.00",
                price_output_per_mtok="2.00", context_limit=32768))
            for label, rules in (("plain", []), ("guarded", GUARD_RULES)):
                policy = policies.create_policy(session, None, schemas.PolicyCreate(name=f"bench-{label}",
                                                                                    rules=rules))
                _key, raw[label] = keys.create_key(session, None, schemas.KeyCreate(
                    name=f"bench-{label}", business_unit_id=unit.id, policy_id=policy.id))
    finally:
        engine.dispose()
    return raw


def guardrail_outcomes(env: dict[str, str]) -> dict[str, int]:
    """Usage records by guardrail outcome: proof that the guarded key's requests were checked (and anonymised)."""
    from sqlalchemy import func, select

    from aicoe.core.db import make_engine
    from aicoe.models.gateway import UsageRecord

    engine = make_engine(env["AICOE_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(UsageRecord.guardrail, func.count()).group_by(UsageRecord.guardrail))
            return {str(outcome): int(count) for outcome, count in rows}
    finally:
        engine.dispose()


def print_profile(path: Path) -> None:
    """The aicoe process's main thread (its event loop), by own time and by cumulative time."""
    import pstats

    for order in ("tottime", "cumulative"):
        print(f"\n--- aicoe gateway profile by {order} (cProfile, event-loop thread; written to {path}) ---")
        pstats.Stats(str(path)).strip_dirs().sort_stats(order).print_stats(30)


def ensure_litellm(venv: Path) -> Path:
    """LiteLLM's interpreter, its environment created on first run."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} (LiteLLM's proxy)...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "litellm[proxy]"], check=True)
    return python


def litellm_version(venv: Path) -> str:
    done = subprocess.run([str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; "
                           "print(m.version('litellm'))"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


# --- load generation --------------------------------------------------------------------------------------------

@dataclass
class Load:
    ok: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    first_error: str = ""
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection sending prepared requests. A load generator this thin (~0.1 ms of CPU
    per request) leaves the CPU to the servers measured; ``httpx2.AsyncClient`` spends ~0.9 ms per request, which
    on a 2-core machine caps the rate it can drive below what the proxies sustain."""

    def __init__(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        parts = httpx2.URL(url)
        self.host, self.port = parts.host, parts.port or 80
        lines = [f"POST {parts.raw_path.decode()} HTTP/1.1", f"host: {self.host}:{self.port}",
                 f"content-length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
        self.payload = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.payload)
        head = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        if b"transfer-encoding: chunked" in head:
            body = b""
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")
        else:
            start = head.index(b"content-length:") + 15
            body = await self.reader.readexactly(int(head[start:head.index(b"\r\n", start)]))
        if b"connection: close" in head:
            self.close()
        return int(head[9:12]), body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _post(connection: Connection, load: Load) -> None:
    SENT[connection.host, connection.port] = SENT.get((connection.host, connection.port), 0) + 1
    try:
        status, body = await connection.send()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        connection.close()
        load.errors += 1
        load.first_error = load.first_error or f"{type(exc).__name__}: {exc}"
        return
    if status == 200:
        load.ok += 1
    else:
        load.errors += 1
        load.first_error = load.first_error or f"HTTP {status}: {body[:300].decode(errors='replace')}"


async def sequential(url: str, body: bytes, headers: dict[str, str], n: int, warmup: int) -> Load:
    """One client, one request at a time."""
    load, connection = Load(), Connection(url, body, headers)
    for _ in range(warmup):
        await _post(connection, Load())
    started = time.perf_counter()
    for _ in range(n):
        begin = time.perf_counter()
        await _post(connection, load)
        load.latencies_ms.append((time.perf_counter() - begin) * 1000)
    load.elapsed_s = time.perf_counter() - started
    connection.close()
    return load


async def closed_loop(url: str, body: bytes, headers: list[dict[str, str]], concurrency: int,
                      duration_s: float | None = None, total: int | None = None) -> Load:
    """``concurrency`` clients, each on its own connection sending its next request as soon as the last is
    answered, for ``duration_s`` or until ``total`` requests were sent (the header sets are spread over them)."""
    load = Load()
    sent = 0
    deadline = time.perf_counter() + (duration_s or 1e9)

    async def worker(index: int) -> None:
        nonlocal sent
        connection = Connection(url, body, headers[index % len(headers)])
        while time.perf_counter() < deadline and (total is None or sent < total):
            sent += 1
            await _post(connection, load)
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    load.elapsed_s = time.perf_counter() - started
    return load


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# --- one target -----------------------------------------------------------------------------------------------------

@dataclass
class Figures:
    target: str
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    added_p50_ms: float | None = None
    added_p99_ms: float | None = None
    rate: float = 0.0
    rate_concurrency: int = 0
    rate_errors: str = ""
    seq_cpu_ms: float | None = None
    cpu_ms_per_request: float | None = None
    rss_idle_mb: float | None = None
    rss_after_mb: float | None = None
    rss_requests: int = 0
    errors: list[str] = field(default_factory=list)


def measure(label: str, url: str, headers: list[dict[str, str]], body: bytes, args: argparse.Namespace,
            pid: int | None) -> Figures:
    """Sequential latency with the first header set, then the closed loop at each concurrency level."""
    figures = Figures(label)
    print(f"  {label}: {args.requests:,} sequential requests...", flush=True)
    before = cpu_s(pid) if pid else 0.0
    seq = asyncio.run(sequential(url, body, headers[0], args.requests, args.warmup))
    if pid:
        figures.seq_cpu_ms = (cpu_s(pid) - before) / (args.requests + args.warmup) * 1000
    if seq.errors:
        figures.errors.append(f"sequential: {seq.errors} errors, first: {seq.first_error}")
    if seq.latencies_ms:
        figures.p50_ms, figures.p99_ms = percentile(seq.latencies_ms, 50), percentile(seq.latencies_ms, 99)
    for level in args.concurrency:
        before = cpu_s(pid) if pid else 0.0
        run = asyncio.run(closed_loop(url, body, headers, level, duration_s=args.duration))
        used = cpu_s(pid) - before if pid else 0.0
        print(f"  {label}: concurrency {level}: {run.rate:,.0f} requests/s, {run.errors} errors"
              + (f", proxy CPU {used / max(run.ok + run.errors, 1) * 1000:.2f} ms/request "
                 f"({used / run.elapsed_s * 100:.0f}% of a core)" if pid else ""), flush=True)
        if run.errors:
            figures.errors.append(f"concurrency {level}: {run.errors} errors, first: {run.first_error}")
        elif run.rate > figures.rate:
            figures.rate, figures.rate_concurrency = run.rate, level
            figures.cpu_ms_per_request = used / max(run.ok, 1) * 1000 if pid else None
    if not figures.rate:
        figures.rate_errors = "no error-free level"
    return figures


def soak(url: str, headers: list[dict[str, str]], body: bytes, total: int, concurrency: int,
         figures: list[Figures], pid: int) -> None:
    """Bring the server to ``total`` requests served (those measured so far count), then read its RSS."""
    server = httpx2.URL(url)
    remaining = max(total - SENT.get((server.host, server.port or 80), 0), 0)
    print(f"  {remaining:,} more requests (concurrency {concurrency}) for the memory reading...", flush=True)
    run = asyncio.run(closed_loop(url, body, headers, concurrency, total=remaining))
    if run.errors:
        figures[0].errors.append(f"soak: {run.errors} errors, first: {run.first_error}")
    after = rss_mb(pid)
    for f in figures:
        f.rss_after_mb, f.rss_requests = after, SENT.get((server.host, server.port or 80), 0)


# --- report ---------------------------------------------------------------------------------------------------------

def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def report(results: list[Figures], direct: Figures, args: argparse.Namespace, versions: dict[str, str]) -> None:
    for f in results:
        if f is not direct and f.p50_ms:
            f.added_p50_ms, f.added_p99_ms = f.p50_ms - direct.p50_ms, f.p99_ms - direct.p99_ms
    header = (f"{'target':<20}{'p50 ms':>8}{'p99 ms':>8}{'+p50 ms':>9}{'+p99 ms':>9}{'CPU ms':>8}{'req/s':>8}"
              f"{'at c':>6}{'CPU ms':>8}{'req/s/core':>11}{'RSS idle':>10}{'RSS after':>10}{'requests':>10}")
    print(f"\nupstream latency {args.latency_ms} ms; {args.requests:,} sequential requests; closed loop "
          f"{args.duration:.0f} s per concurrency level {args.concurrency}; {os.cpu_count()} CPUs; {versions}")
    print(header)
    print("-" * len(header))
    for f in results:
        per_core = 1000 / f.cpu_ms_per_request if f.cpu_ms_per_request else None
        print(f"{f.target:<20}{f.p50_ms:>8.2f}{f.p99_ms:>8.2f}{_fmt(f.added_p50_ms):>9}{_fmt(f.added_p99_ms):>9}"
              f"{_fmt(f.seq_cpu_ms):>8}{f.rate:>8,.0f}{f.rate_concurrency or '-':>6}{_fmt(f.cpu_ms_per_request):>8}"
              f"{_fmt(per_core, ',.0f'):>11}{_fmt(f.rss_idle_mb, '.0f'):>10}{_fmt(f.rss_after_mb, '.0f'):>10}"
              f"{f.rss_requests or '-':>10}")
    print("CPU ms: the server's CPU time per request (sequential, then under load); req/s/core: the rate one fully "
          "used core would sustain at that cost (for direct: the stub upstream's figures)")
    for f in results:
        for error in f.errors:
            print(f"  {f.target}: {error}")
    by = {f.target: f for f in results}
    plain, guarded, litellm = by.get("aicoe"), by.get("aicoe + guardrails"), by.get("litellm")
    goals: list[tuple[str, bool | None]] = []
    if plain and plain.added_p50_ms is not None:
        goals += [(f"aicoe added p50 {plain.added_p50_ms:.2f} ms <= 1 ms", plain.added_p50_ms <= 1.0),
                  (f"aicoe added p99 {plain.added_p99_ms:.2f} ms <= 5 ms", (plain.added_p99_ms or 0) <= 5.0)]
    if guarded and guarded.added_p50_ms is not None:
        goals.append((f"aicoe + guardrails added p50 {guarded.added_p50_ms:.2f} ms <= 3 ms",
                      guarded.added_p50_ms <= 3.0))
    if plain and litellm and litellm.rate:
        ratio = plain.rate / litellm.rate
        goals.append((f"aicoe sustained rate {ratio:.1f}x LiteLLM's (>= 20x)", ratio >= 20))
        if guarded:
            print(f"ratio with guardrails (aicoe + guardrails vs LiteLLM without): {guarded.rate / litellm.rate:.1f}x")
        if litellm.cpu_ms_per_request and plain.cpu_ms_per_request:
            print(f"CPU per request under load: LiteLLM {litellm.cpu_ms_per_request:.2f} ms vs aicoe "
                  f"{plain.cpu_ms_per_request:.2f} ms ({litellm.cpu_ms_per_request / plain.cpu_ms_per_request:.1f}x: "
                  "the rate ratio when each has a core to itself)")
        if litellm.added_p50_ms and plain.added_p50_ms is not None:
            print(f"added p50: LiteLLM {litellm.added_p50_ms:.2f} ms vs aicoe {plain.added_p50_ms:.2f} ms "
                  f"({litellm.added_p50_ms / max(plain.added_p50_ms, 0.01):.0f}x less)")
        if litellm.rss_idle_mb and plain.rss_idle_mb:
            print(f"idle RSS: LiteLLM {litellm.rss_idle_mb:.0f} MB vs aicoe {plain.rss_idle_mb:.0f} MB")
    if plain and plain.rss_idle_mb is not None:
        goals.append((f"aicoe idle RSS {plain.rss_idle_mb:.0f} MB < 150 MB", plain.rss_idle_mb < 150))
        if plain.rss_after_mb is not None:
            growth = plain.rss_after_mb - plain.rss_idle_mb
            goals.append((f"aicoe RSS growth {growth:.0f} MB over {plain.rss_requests:,} requests < 50 MB "
                          f"(goal stated for 100,000)", growth < 50 and plain.rss_requests >= 100_000))
    for text, ok in goals:
        print(f"goal: {text}: {'PASS' if ok else 'FAIL'}")
    OUT.mkdir(exist_ok=True)
    (OUT / "gateway.json").write_text(json.dumps({"settings": {k: v for k, v in vars(args).items()
                                                               if isinstance(v, int | float | str | list)},
                                                  "versions": versions, "results": [asdict(f) for f in results],
                                                  "goals": dict(goals)}, indent=2, default=str))


# --- main -----------------------------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="aicoe-bench-gateway-"))
    body = prompt_body(ALIAS)
    stub_port = free_port()
    stub_cmd = [sys.executable, __file__, "--serve-stub", str(stub_port), "--latency-ms", str(args.latency_ms)]
    versions = {"python": sys.version.split()[0]}
    results: list[Figures] = []
    try:
        with serve("stub", stub_cmd, {}, f"http://127.0.0.1:{stub_port}/v1/models", workdir) as stub:
            upstream = f"http://127.0.0.1:{stub_port}/v1"
            print(f"stub upstream (pid {stub.process.pid}) at {upstream}, {args.latency_ms} ms per request")
            direct_body = prompt_body(UPSTREAM_MODEL)
            headers = [{"Authorization": "Bearer sk-bench-upstream", "Content-Type": "application/json"}]
            direct = measure("direct", f"{upstream}/chat/completions", headers, direct_body, args, stub.process.pid)
            results.append(direct)
            if "aicoe" in args.targets:
                results += run_aicoe(args, workdir, upstream, body)
            if "litellm" in args.targets:
                results.append(run_litellm(args, workdir, upstream, body, versions))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(results, direct, args, versions)


def run_aicoe(args: argparse.Namespace, workdir: Path, upstream: str, body: bytes) -> list[Figures]:
    env = aicoe_env(workdir, args.database_url)
    raw = configure_aicoe(env, upstream)
    port = free_port()
    serve_args = ["gateway", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command = [str(Path(sys.executable).parent / "aicoe"), *serve_args]
    if args.profile:
        # the server process `aicoe gateway serve` execs into, profiled (one worker)
        command = [sys.executable, "-c", PROFILED, str(args.profile.resolve()), "127.0.0.1", str(port), "1"]
    base = f"http://127.0.0.1:{port}"
    plain_h = [{"Authorization": f"Bearer {raw['plain']}", "Content-Type": "application/json"}]
    guard_h = [{"Authorization": f"Bearer {raw['guarded']}", "Content-Type": "application/json"}]
    with serve("aicoe", command, env, f"{base}/healthz", workdir) as server:
        pid = server.process.pid
        time.sleep(1.0)
        idle = rss_mb(pid)
        print(f"aicoe gateway (pid {pid}) at {base}: idle RSS {idle:.0f} MB")
        url = f"{base}/v1/chat/completions"
        plain = measure("aicoe", url, plain_h, body, args, pid)
        guarded = measure("aicoe + guardrails", url, guard_h, body, args, pid)
        plain.rss_idle_mb = guarded.rss_idle_mb = idle
        soak(url, plain_h + guard_h, body, args.rss_requests, max(args.concurrency), [plain, guarded], pid)
    if args.profile:
        print_profile(args.profile)
    outcomes = guardrail_outcomes(env)
    print(f"  aicoe usage records by guardrail outcome: {outcomes}")
    if not outcomes.get("anonymised"):
        guarded.errors.append(f"no request was anonymised (outcomes {outcomes}): were the guardrails applied?")
    return [plain, guarded]


def run_litellm(args: argparse.Namespace, workdir: Path, upstream: str, body: bytes,
                versions: dict[str, str]) -> Figures:
    python = ensure_litellm(args.litellm_venv)
    versions["litellm"] = litellm_version(args.litellm_venv)
    master = "sk-bench-" + secrets.token_urlsafe(16)
    port = free_port()
    env: dict[str, str | None] = {"BENCH_UPSTREAM_URL": upstream, "LITELLM_MASTER_KEY": master, "LITELLM_LOG": "ERROR",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "DATABASE_URL": None,
           "STORE_MODEL_IN_DB": "False"}
    command = [str(python), "-m", "litellm.proxy.proxy_cli", "--config", str(LITELLM_CONFIG), "--host", "127.0.0.1",
               "--port", str(port), "--num_workers", "1"]
    base = f"http://127.0.0.1:{port}"
    headers = [{"Authorization": f"Bearer {master}", "Content-Type": "application/json"}]
    with serve("litellm", command, env, f"{base}/health/liveliness", workdir, timeout_s=180) as server:
        pid = server.process.pid
        time.sleep(1.0)
        idle = rss_mb(pid)
        print(f"LiteLLM {versions['litellm']} proxy (pid {pid}) at {base}: idle RSS {idle:.0f} MB")
        figures = measure("litellm", f"{base}/v1/chat/completions", headers, body, args, pid)
        figures.rss_idle_mb = idle
        soak(f"{base}/v1/chat/completions", headers, body, args.litellm_rss_requests, max(args.concurrency),
             [figures], pid)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests per target")
    parser.add_argument("--warmup", type=int, default=200, help="sequential requests before the clock starts")
    parser.add_argument("--concurrency", type=lambda v: [int(c) for c in v.split(",")], default=[32],
                        help="closed-loop concurrency levels, comma-separated; the best error-free one counts")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per concurrency level")
    parser.add_argument("--latency-ms", type=float, default=5.0, help="the upstream's fixed latency")
    parser.add_argument("--rss-requests", type=int, default=100_000, help="aicoe's requests before the RSS reading")
    parser.add_argument("--litellm-rss-requests", type=int, default=100_000)
    parser.add_argument("--targets", type=lambda v: v.split(","), default=["aicoe", "litellm"],
                        help="proxies to measure besides the direct baseline: aicoe, litellm or both")
    parser.add_argument("--litellm-venv", type=Path, default=VENV, help="where LiteLLM's environment lives")
    parser.add_argument("--database-url", help="aicoe's database (default: a fresh SQLite file)")
    parser.add_argument("--profile", type=Path, help="run aicoe under cProfile and print its hot spots")
    parser.add_argument("--serve-stub", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_stub is not None:
        run_stub(args.latency_ms, args.serve_stub)
        return
    run(args)


if __name__ == "__main__":
    main()
