"""Prometheus metrics of the gateway, served at ``/metrics``.

Several worker processes (``aicoe gateway serve --workers N``) each count on their own; for one consistent scrape
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable directory before starting: the workers then write their
samples there and ``/metrics`` aggregates them (prometheus_client's multiprocess mode; gauges report per worker).
Labels never carry key material or text: aliases, statuses, outcomes, rule ids and actions only.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter("aicoe_gateway_requests_total", "Requests answered, by model alias, HTTP status and outcome",
                   ["alias", "status", "outcome"])
TOKENS = Counter("aicoe_gateway_tokens_total", "Tokens metered, by model alias and direction (in, out)",
                 ["alias", "direction"])
COST = Counter("aicoe_gateway_cost_micros_total", "Cost metered in micro-units of the platform currency", ["alias"])
UPSTREAM_LATENCY = Histogram("aicoe_gateway_upstream_seconds", "Time spent waiting for the upstream (to the whole "
                             "answer, or to the end of the stream)", ["alias"], buckets=LATENCY_BUCKETS)
OVERHEAD = Histogram("aicoe_gateway_overhead_seconds", "Time the gateway added to a request (total minus upstream)",
                     ["endpoint"], buckets=LATENCY_BUCKETS)
GUARDRAIL = Counter("aicoe_gateway_guardrail_interventions_total", "Guardrail findings acted on, by rule, action "
                    "and direction", ["rule", "action", "direction"])
LIMIT_REJECTIONS = Counter("aicoe_gateway_limit_rejections_total", "Requests refused by a rate limit or a budget, by "
                           "kind (rpm, tpm, budget) and scope", ["kind", "scope"])
CIRCUIT_OPEN = Gauge("aicoe_gateway_circuit_open", "1 while the circuit breaker of an upstream provider is open",
                     ["provider"], multiprocess_mode="max")
USAGE_PENDING = Gauge("aicoe_gateway_usage_pending", "Usage records, guardrail events and prompt logs waiting to be "
                      "written", multiprocess_mode="sum")
USAGE_DROPPED = Counter("aicoe_gateway_usage_dropped_total", "Records dropped because the database stayed unavailable "
                        "while the pending queue was full")
GUARD_EMBEDDINGS = Counter("aicoe_gateway_guardrail_embedding_calls_total", "Calls guardrails made to the embedding "
                           "route to compare text with denied topics' examples, by alias and outcome (ok, error)",
                           ["alias", "outcome"])


@lru_cache(maxsize=4096)
def child(metric: Any, *values: str) -> Any:
    """``metric.labels(*values)``, cached: the lookup (label validation, a lock, a dict) costs microseconds per call,
    several times per request, and label values come from the configuration (aliases, rules), so they are few."""
    return metric.labels(*values)


def render() -> tuple[bytes, str]:
    """The exposition text for a scrape (aggregated over workers in multiprocess mode) and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
