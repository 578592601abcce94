"""Benchmark: the sensitive-data engine against Presidio on the labelled text corpus.

Both engines scan the same documents from ``tests/sensitive_corpus.py`` (support tickets, HR notes, payment
logs, config snippets, chat messages, ops logs; every value labelled with its exact span). Presidio runs as the
issue asks: ``AnalyzerEngine`` with its no-op NLP engine (``NoOpNlpEngine``: empty ``NlpArtifacts``, no spaCy
model loaded or downloaded) and only the recognisers of the entity types both engines support. Each engine is
measured in a fresh child process, with outgoing network connections made impossible (attempts are counted and
reported), and prints:

* throughput in characters per second over the whole corpus, one ``scan_text``/``analyze`` call per document
  (and ours batched through ``scan_texts``), and the ratio;
* p50 and p95 latency per 2 KB text (2,048-character slices of a second corpus, generated with the next seed,
  so that the engine has not seen the text before), and ours for pattern matching alone on the same texts (the
  pattern filter and RE2's match enumeration, ``Analyzer.candidate_count``: the regex engines' share, before any
  validator or context window), beside the time per text that 100× Presidio's speed would leave;
* start-up time (imports, building the engine and scanning a first document) and the time until full speed
  (ours builds its Hyperscan pattern filter in the background and answers with RE2 meanwhile; the corpus is
  timed after it is ready), and ours again in two more fresh children sharing a new cache directory
  (``prefilter.use_cache_dir``, what ``aicoe scan`` and the servers use): the first compiles and keeps the filter,
  the second loads it; in a separate traced child, the
  Python heap (tracemalloc) that importing and building the engine adds and the peak extra heap while it scans
  20 of the 2 KB texts; the child's peak RSS (and the same before the engine was built, with only the corpora
  loaded);
* per-entity precision and recall with exact-span matching, for the shared types side by side (Presidio at
  its default score threshold 0 and at ours, 0.5: with no NLP engine its context words never apply, so its
  scores stay at the patterns' base values), and ours alone for the types Presidio lacks. The verdict holds
  ours against Presidio's better threshold for that type (higher F1): both precision and recall must be at
  least as high.

    .venv/bin/python bench/sensitive_text.py [--docs N] [--seed N] [--latency-texts N] [--quick] [--misses N]

Presidio is a benchmark-only dependency (``pip install 'aicoe[bench]'``). Its e-mail validator calls
``tldextract``, which would try to download the Public Suffix List on first use; it is pointed at its bundled
snapshot here, so the run is fully offline.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import resource
import socket
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the corpus lives in tests/

from tests.sensitive_corpus import ENTITIES, Doc, Miss, Tally, evaluate, generate  # noqa: E402

SHARED: tuple[str, ...] = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_ITIN",
                           "UK_NINO", "UK_NHS", "CA_SIN", "IP_ADDRESS", "MAC_ADDRESS", "CRYPTO")
"""Entity types both engines name the same way and both detect (Presidio's CA_SIN and UK_NINO recognisers ship
disabled; they are switched on here). Presidio's URL and DATE_TIME are different things from our
URL_CREDENTIALS and DATE_OF_BIRTH, so they are not compared."""
PRESIDIO_RECOGNIZERS = ("EmailRecognizer", "PhoneRecognizer", "CreditCardRecognizer", "IbanRecognizer",
                        "UsSsnRecognizer", "UsItinRecognizer", "UkNinoRecognizer", "NhsRecognizer", "CaSinRecognizer",
                        "IpRecognizer", "MacAddressRecognizer", "CryptoRecognizer")
OUR_MIN_SCORE = 0.5
SLICE_CHARS = 2048
TARGET_RATIO = 100.0
TARGET_P50_MS = 0.5


@dataclass
class Measured:
    """What one engine's child process reports back."""

    name: str
    build_s: float
    ready_s: float
    scan_s: float
    batch_s: float | None
    latencies_ms: list[float]
    matching_ms: list[float]
    heap_build: int
    heap_scan: int
    rss_before: int
    rss: int
    network_attempts: int
    predicted: list[list[tuple[str, int, int, float]]]


_ATTEMPTS = 0


def network_attempts() -> int:
    return _ATTEMPTS


def forbid_network() -> None:
    """Every DNS lookup or connection fails and is counted: nothing can be downloaded behind our back."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        global _ATTEMPTS
        _ATTEMPTS += 1
        raise OSError("network access is disabled in this benchmark")

    socket.getaddrinfo = refuse
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]


Scan = Callable[[str], list[tuple[str, int, int, float]]]


Built = tuple[Scan, Callable[[list[str]], Any] | None, Callable[[], Any] | None, Callable[[str], Any] | None]


def _build_ours() -> Built:
    from aicoe.engines.sensitive.analyzer import Analyzer

    analyzer = Analyzer()

    def scan(text: str) -> list[tuple[str, int, int, float]]:
        return [(f.entity, f.start, f.end, f.score) for f in analyzer.scan_text(text, min_score=OUR_MIN_SCORE)]

    return (scan, lambda texts: analyzer.scan_texts(texts, min_score=OUR_MIN_SCORE), analyzer.prepare,
            analyzer.candidate_count)


def presidio_engine() -> Any:
    """Presidio's ``AnalyzerEngine`` with the no-op NLP engine and the shared types' recognisers only."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, predefined_recognizers
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())
    nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for name in PRESIDIO_RECOGNIZERS:
        registry.add_recognizer(getattr(predefined_recognizers, name)(supported_language="en"))
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def _build_presidio() -> Built:
    engine = presidio_engine()

    def scan(text: str) -> list[tuple[str, int, int, float]]:
        return [(r.entity_type, r.start, r.end, r.score)
                for r in engine.analyze(text, language="en", entities=list(SHARED), score_threshold=0.0)]

    return scan, None, None, None


BUILDERS = {"aicoe": _build_ours, "presidio": _build_presidio}


def measure(name: str, n_docs: int, seed: int, latency_texts: int) -> Measured:
    """Runs in a fresh child process: build (timed, imports included), warm up, scan the corpus, time 2 KB
    slices."""
    forbid_network()
    docs = generate(n_docs, seed)
    texts = [d.text for d in docs]
    # Unseen text: slices of another corpus, so no cache (RE2 DFA states, validator and context memos) has met it.
    unseen = generate(max(n_docs, latency_texts * SLICE_CHARS // 400), seed + 1)  # ~480 characters a document
    slices = two_kb_slices([d.text for d in unseen], latency_texts)
    rss_before = _peak_rss()
    started = time.perf_counter()
    scan, batch, prepare, match_only = BUILDERS[name]()
    scan(texts[0])  # start-up: until the first text is answered
    build_s = time.perf_counter() - started
    if prepare is not None:  # and until full speed: what builds in the background (ours: Hyperscan's database)
        prepare()
    ready_s = time.perf_counter() - started
    for text in texts[:20]:  # warm-up: caches, lazy imports
        scan(text)
    started = time.perf_counter()
    predicted = [scan(text) for text in texts]
    scan_s = time.perf_counter() - started
    batch_s = None
    if batch is not None:
        started = time.perf_counter()
        batch(texts)
        batch_s = time.perf_counter() - started
    latencies = []
    for text in slices:
        started = time.perf_counter()
        scan(text)
        latencies.append((time.perf_counter() - started) * 1000)
    matching = []  # the same texts through the pattern filter and RE2's match enumeration alone
    for text in slices if match_only is not None else ():
        started = time.perf_counter()
        match_only(text)
        matching.append((time.perf_counter() - started) * 1000)
    return Measured(name, build_s, ready_s, scan_s, batch_s, latencies, matching, 0, 0, rss_before, _peak_rss(),
                    network_attempts(), predicted)


def kept_startup(cache_dir: str, text: str) -> tuple[float, float, int]:
    """Runs in a fresh child: start-up and full speed of ours with compiled filters kept in ``cache_dir``, and how
    many compiles it started (0 when it loaded one an earlier child kept)."""
    forbid_network()
    started = time.perf_counter()
    from aicoe.engines.sensitive import prefilter
    from aicoe.engines.sensitive.analyzer import Analyzer

    prefilter.use_cache_dir(cache_dir)
    analyzer = Analyzer()
    analyzer.scan_text(text)
    first = time.perf_counter() - started
    analyzer.prepare()
    return first, time.perf_counter() - started, prefilter.compiles_started()


def traced(name: str, n_docs: int, seed: int) -> tuple[int, int]:
    """Runs in another fresh child: the Python heap that building the engine (imports included) adds, and the
    peak extra heap while it scans 20 of the 2 KB texts. Separate, because tracing slows everything down."""
    forbid_network()
    slices = two_kb_slices([d.text for d in generate(n_docs, seed)], 20)
    gc.collect()
    tracemalloc.start()
    scan = BUILDERS[name]()[0]
    baseline, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for text in slices:
        scan(text)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return baseline, peak - baseline


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def two_kb_slices(texts: list[str], count: int) -> list[str]:
    joined = "\n".join(texts)
    while len(joined) < SLICE_CHARS * count:
        joined += "\n" + joined
    return [joined[i * SLICE_CHARS:(i + 1) * SLICE_CHARS] for i in range(count)]


def in_child(name: str, n_docs: int, seed: int, latency_texts: int) -> Measured:
    measured = _child(measure, name, n_docs, seed, latency_texts)
    measured.heap_build, measured.heap_scan = _child(traced, name, min(n_docs, 200), seed)
    return measured


def _child(function: Callable[..., Any], *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def kept_startups(text: str) -> list[tuple[float, float, int]]:
    """Ours started twice with a new cache directory: compiling (and keeping), then loading."""
    with tempfile.TemporaryDirectory() as directory:
        return [_child(kept_startup, str(Path(directory) / "cache"), text) for _ in range(2)]


def at_threshold(measured: Measured, threshold: float) -> list[list[tuple[str, int, int]]]:
    return [[(e, s, t) for e, s, t, score in found if score >= threshold] for found in measured.predicted]


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def f1(tally: Tally) -> float:
    return 2 * tally.tp / (2 * tally.tp + tally.fp + tally.fn) if tally.tp else 0.0


def _pr(tally: Tally) -> str:
    return f"{tally.precision:6.3f} {tally.recall:6.3f}"


def report(docs: list[Doc], ours: Measured, presidio: Measured, kept: list[tuple[float, float, int]],
           show_misses: int) -> bool:
    chars = sum(len(d.text) for d in docs)
    ours_rate, presidio_rate = chars / ours.scan_s, chars / presidio.scan_s
    ratio = ours_rate / presidio_rate
    print(f"\n== throughput over {len(docs):,} documents, {chars:,} characters")
    print(f"{'aicoe (scan_text per doc)':34} {ours_rate / 1e6:9.2f} M chars/s   ({ours.scan_s:.3f} s)")
    if ours.batch_s:
        print(f"{'aicoe (scan_texts, one batch)':34} {chars / ours.batch_s / 1e6:9.2f} M chars/s   "
              f"({ours.batch_s:.3f} s)")
    print(f"{'presidio (analyze per doc)':34} {presidio_rate / 1e6:9.3f} M chars/s   ({presidio.scan_s:.3f} s)")
    print(f"{'ratio':34} {ratio:9.1f}x   [{'OK' if ratio >= TARGET_RATIO else 'BELOW'} vs {TARGET_RATIO:.0f}x]")

    print(f"\n== latency per {SLICE_CHARS}-character text ({len(ours.latencies_ms)} texts)")
    for m in (ours, presidio):
        p50 = statistics.median(m.latencies_ms)
        verdict = f"   [{'OK' if p50 < TARGET_P50_MS else 'TOO SLOW'} vs {TARGET_P50_MS} ms]" if m is ours else ""
        print(f"{m.name:10} p50 {p50:8.3f} ms   p95 {percentile(m.latencies_ms, 95):8.3f} ms{verdict}")
    if ours.matching_ms:
        matching = statistics.median(ours.matching_ms)
        budget = statistics.median(presidio.latencies_ms) / TARGET_RATIO
        print(f"{'aicoe pattern matching alone (filter + RE2 enumeration)':56} p50 {matching:8.3f} ms "
              f"({matching / statistics.median(ours.latencies_ms):.0%} of a scan; {TARGET_RATIO:.0f}x Presidio "
              f"leaves {budget:.3f} ms)")

    print("\n== memory and start-up")
    for m in (ours, presidio):
        print(f"{m.name:10} start-up {m.build_s * 1000:6.0f} ms (full speed {m.ready_s * 1000:5.0f} ms)   "
              f"heap: engine {m.heap_build / 2**20:6.1f} MiB, scanning +{m.heap_scan / 2**20:5.2f} MiB   "
              f"peak RSS {m.rss / 2**20:4.0f} MiB (corpora alone {m.rss_before / 2**20:.0f})   "
              f"network attempts {m.network_attempts}")
    for label, (first, ready, compiles) in zip(("compiles, keeps", "loads the kept"), kept, strict=True):
        print(f"{'aicoe':10} start-up {first * 1000:6.0f} ms (full speed {ready * 1000:5.0f} ms)   with a cache "
              f"directory: {label} filter ({compiles} compile{'' if compiles == 1 else 's'})")

    misses: list[Miss] = []
    ours_t = evaluate(docs, at_threshold(ours, 0.0), ENTITIES, misses)
    p_default = evaluate(docs, at_threshold(presidio, 0.0), SHARED)
    p_half = evaluate(docs, at_threshold(presidio, OUR_MIN_SCORE), SHARED)
    print("\n== shared entity types: precision recall (exact spans)")
    print(f"{'entity':16} {'labels':>6}   {'aicoe':>13}   {'presidio@0':>13}   {'presidio@0.5':>13}   verdict")
    ok = ratio >= TARGET_RATIO
    for entity in SHARED:
        t, peer = ours_t[entity], max(p_default[entity], p_half[entity], key=f1)
        good = t.precision >= peer.precision and t.recall >= peer.recall
        ok &= good
        print(f"{entity:16} {t.tp + t.fn:6}   {_pr(t)}   {_pr(p_default[entity])}   {_pr(p_half[entity])}   "
              f"{'OK' if good else 'BELOW'}")
    print("\n== types only aicoe detects: precision recall")
    for entity in ENTITIES:
        if entity not in SHARED:
            t = ours_t[entity]
            print(f"{entity:28} {t.tp + t.fn:6}   {_pr(t)}")
    if show_misses and misses:
        print(f"\n== aicoe errors (first {show_misses} of {len(misses)})")
        for miss in misses[:show_misses]:
            print(f"{miss.kind} {miss.entity:26} {miss.value!r:45} in {miss.line!r}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2000, help="corpus documents (default 2,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-texts", type=int, default=300, help="2 KB texts timed one by one (default 300)")
    parser.add_argument("--misses", type=int, default=20, help="our errors to list (default 20)")
    parser.add_argument("--quick", action="store_true", help="a small run: 200 documents, 50 latency texts")
    args = parser.parse_args(argv)
    if args.quick:
        args.docs, args.latency_texts = 200, 50
    if args.docs < 20 or args.latency_texts < 20:
        parser.error("--docs and --latency-texts must be at least 20")
    docs = generate(args.docs, args.seed)
    ours = in_child("aicoe", args.docs, args.seed, args.latency_texts)
    presidio = in_child("presidio", args.docs, args.seed, args.latency_texts)
    ok = report(docs, ours, presidio, kept_startups(docs[0].text), args.misses)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
