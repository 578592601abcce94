"""Token bounds and costs, without a tokenizer.

Budgets are reserved at a request's *maximum* cost, so the bound must never be below what the upstream will
charge. Byte-level BPE tokenizers (GPT, Llama, Mistral, ...) spend at least one UTF-8 byte per token, so the UTF-8
byte count of every text the model reads (message contents, names, tool calls and tool definitions) plus
``PER_MESSAGE_TOKENS`` per message and ``PER_REQUEST_TOKENS`` per request bounds the input tokens. An image part
counts ``IMAGE_PART_TOKENS`` (OpenAI's largest high-detail charge). The output bound is the request's
``max_completion_tokens``/``max_tokens`` or else the route's whole context window: pass ``max_tokens`` to reserve
less. Both are capped at the context limit, which the upstream enforces. Costs are in micro-units, rounded up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

PER_MESSAGE_TOKENS = 4
PER_REQUEST_TOKENS = 3
IMAGE_PART_TOKENS = 1_600
MTOK = 1_000_000


def _text_bytes(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if value is None:
        return 0
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _content_bound(content: Any) -> int:
    if isinstance(content, str) or content is None:
        return _text_bytes(content)
    total = 0
    for part in content if isinstance(content, list) else [content]:
        if isinstance(part, Mapping) and part.get("type") == "text":
            total += _text_bytes(part.get("text"))
        elif isinstance(part, Mapping) and part.get("type") in {"image_url", "input_image"}:
            total += IMAGE_PART_TOKENS
        else:
            total += _text_bytes(part)
    return total


def chat_input_bound(body: Mapping[str, Any]) -> int:
    """Upper bound of a chat request's input tokens."""
    total = PER_REQUEST_TOKENS
    for message in body.get("messages") or ():
        if not isinstance(message, Mapping):
            total += _text_bytes(message)
            continue
        total += PER_MESSAGE_TOKENS + _content_bound(message.get("content"))
        total += _text_bytes(message.get("name")) + _text_bytes(message.get("tool_calls"))
        total += _text_bytes(message.get("function_call"))
    for extra in ("tools", "functions", "response_format"):
        total += _text_bytes(body.get(extra))
    return total


def requested_output(body: Mapping[str, Any]) -> int | None:
    """The output tokens the caller allows per choice, if it said."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def chat_bounds(body: Mapping[str, Any], context_limit: int) -> tuple[int, int]:
    """(input, output) token bounds for one route; the output covers every choice (``n``)."""
    n = body.get("n") if isinstance(body.get("n"), int) and body.get("n", 1) > 0 else 1
    requested = requested_output(body)
    output = context_limit if requested is None else min(requested, context_limit)
    return min(chat_input_bound(body), context_limit), output * n


def embedding_input_bound(body: Mapping[str, Any]) -> int:
    """Upper bound of an embeddings request's input tokens (token arrays count their length)."""
    value = body.get("input")
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    total = 0
    for item in items:
        if isinstance(item, int):
            total += 1
        elif isinstance(item, list):
            total += len(item)
        else:
            total += _text_bytes(item)
    return total


def cost_micros(tokens_in: int, tokens_out: int, price_in_per_mtok: int, price_out_per_mtok: int) -> int:
    """Cost in micro-units, rounded up to the next micro-unit."""
    return -(-(tokens_in * price_in_per_mtok + tokens_out * price_out_per_mtok) // MTOK)


def text_bound(text: str) -> int:
    """Tokens a text can at most be, when an upstream reports no usage."""
    return len(text.encode())
