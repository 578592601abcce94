"""The built-in demonstration upstream (provider kind ``demo``): in process, no network, deterministic.

It lets ``make run`` show the gateway end to end without any external model provider. Every answer starts with
``[aicoe demo upstream]`` so nobody mistakes it for a model; it reports what it was asked (message count, size, the
opening words of the last user message as the gateway passed them, so anonymised values show as their stand-ins) and
never adds text of its own beyond that. Embeddings are hashed bag-of-words unit vectors of fixed dimension, so
texts sharing words are close (enough for topic-similarity demos).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from collections.abc import AsyncIterator
from typing import Any

LABEL = "[aicoe demo upstream]"
EMBEDDING_DIM = 64
QUOTE_WORDS = 12
STREAM_WORDS = 3
ANSWER = (
    "{label} You sent {count} message(s), {chars} characters in all, to model {model}. "
    "The last user message begins: \u201c{quote}\u201d. This is a demonstration answer, not a model's."
)
TOOL_RESULT_ANSWER = "{label} Received {count} tool result(s); this demonstration answer ends the exchange."

_WORD = re.compile(r"\w+", re.UNICODE)


def count_tokens(text: str) -> int:
    """A rough token count (about four characters a token), enough for demonstration usage figures."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _answer(body: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]] | None]:
    """The answer's content, or tool calls when the request offers tools and the last message is the user's."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        results = sum(1 for m in messages if m.get("role") == "tool")
        return TOOL_RESULT_ANSWER.format(label=LABEL, count=results), None
    tools = body.get("tools") or []
    if tools and body.get("tool_choice") != "none":
        name = tools[0].get("function", {}).get("name", "tool")
        call = {"id": "call_demo_0", "type": "function", "function": {"name": name, "arguments": "{}"}}
        return None, [call]
    user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    quote = " ".join(user.split()[:QUOTE_WORDS])
    chars = sum(len(_text(m.get("content"))) for m in messages)
    content = ANSWER.format(label=LABEL, count=len(messages), chars=chars, model=body.get("model", ""), quote=quote)
    return content, None


def _usage(body: dict[str, Any], content: str | None, tool_calls: list[dict[str, Any]] | None) -> dict[str, int]:
    prompt = count_tokens(json.dumps(body.get("messages") or [], ensure_ascii=False))
    completion = count_tokens(content or json.dumps(tool_calls or []))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _ident(body: dict[str, Any]) -> str:
    return "chatcmpl-demo-" + hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def chat(body: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed chat completion."""
    content, tool_calls = _answer(body)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": _ident(body),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": _usage(body, content, tool_calls),
    }


async def chat_stream(body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """A streamed chat completion in chunks of a few words; a usage-only chunk last when the request asks."""
    content, tool_calls = _answer(body)
    base = {"id": _ident(body), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body.get("model", "")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    if tool_calls:
        yield chunk({"tool_calls": [{"index": 0, **tool_calls[0]}]})
    else:
        words = (content or "").split(" ")
        for i in range(0, len(words), STREAM_WORDS):
            piece = " ".join(words[i:i + STREAM_WORDS])
            yield chunk({"content": piece if i == 0 else " " + piece})
            await asyncio.sleep(0)
    yield chunk({}, "tool_calls" if tool_calls else "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        yield {**base, "choices": [], "usage": _usage(body, content, tool_calls)}


def embed(text: str, dim: int = EMBEDDING_DIM) -> list[float]:
    """A deterministic unit vector: each word hashed to a signed dimension, then L2-normalised."""
    vector = [0.0] * dim
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "big") % dim
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        return [1.0] + [0.0] * (dim - 1)
    return [v / norm for v in vector]


def embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """Embeddings for a string or a list of strings (token arrays are read as their numbers)."""
    raw = body.get("input", "")
    inputs = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else list(raw)
    texts = [item if isinstance(item, str) else " ".join(map(str, item)) for item in inputs]
    tokens = sum(count_tokens(t) for t in texts)
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": embed(t)} for i, t in enumerate(texts)],
        "model": body.get("model", ""),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
