"""The streaming guard: bounded hold-back, violations caught across any chunking, nothing released after a block,
anonymisation and placeholder restoration across chunk boundaries, and fail-closed mid-stream."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.guardrails import GUARD_UNAVAILABLE, Guard, GuardPolicy, GuardrailError, StreamStep
from aicoe.engines.guardrails.stream import BAD_HOLDBACK
from aicoe.engines.guardrails.verdict import BLOCKED_OUTPUT

AWS_KEY = "AKIAQ3EGUJ5KXW7ZP2MB"
EMAILS = ["ann@example.com", "bob.smith@example.org", "c.d@example.net"]
WORDS = ["the", "answer", "is", "that", "we", "should", "review", "quarterly", "numbers", "carefully", "today"]
LONGEST_ENTITY = max(len(e) for e in EMAILS + [AWS_KEY])

SECRETS_BLOCK = GuardPolicy.from_dict({"name": "out", "rules": [
    {"id": "secrets", "kind": "secrets", "action": "block", "direction": "output"}]})
PII_ANONYMISE = GuardPolicy.from_dict({"name": "out", "rules": [
    {"id": "pii", "kind": "pii", "action": "anonymise", "direction": "output",
     "params": {"entities": ["EMAIL_ADDRESS"]}},
    {"id": "secrets", "kind": "secrets", "action": "block", "direction": "output"}]})
INPUT_ONLY = GuardPolicy.from_dict({"name": "in", "rules": [{"id": "pii", "kind": "pii", "action": "anonymise",
                                                               "direction": "input"}]})


def chunked(text: str, sizes: list[int]) -> list[str]:
    chunks, position, i = [], 0, 0
    while position < len(text):
        size = sizes[i % len(sizes)]
        chunks.append(text[position:position + size])
        position += size
        i += 1
    return chunks


def run(guard_stream, chunks: list[str]) -> tuple[str, list[StreamStep]]:  # noqa: ANN001
    steps = []
    for chunk in chunks:
        steps.append(guard_stream.feed(chunk))
        if steps[-1].stop:
            return "".join(s.release for s in steps), steps
    steps.append(guard_stream.finish())
    return "".join(s.release for s in steps), steps


filler = st.lists(st.sampled_from(WORDS), min_size=0, max_size=120).map(" ".join)
sizes = st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=12)
holdbacks = st.sampled_from([32, 64, 100, 256])


@settings(max_examples=120, deadline=None)
@given(before=filler, after=filler, sizes=sizes, holdback=holdbacks)
def test_a_secret_split_across_any_chunking_is_caught_and_nothing_after_it_is_released(
        before: str, after: str, sizes: list[int], holdback: int) -> None:
    text = f"{before} {AWS_KEY} {after}"
    start = text.index(AWS_KEY)
    released, steps = run(Guard(SECRETS_BLOCK).stream(holdback=holdback), chunked(text, sizes))
    assert steps[-1].stop and steps[-1].verdict is not None
    assert steps[-1].verdict.action == "block"
    assert steps[-1].verdict.reason == BLOCKED_OUTPUT.format(policy="out", rules="secrets [AWS_ACCESS_KEY_ID]")
    assert [(f.start, f.end) for f in steps[-1].verdict.findings] == [(start, start + len(AWS_KEY))]
    assert text.startswith(released) and len(released) <= start


tokens = st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(EMAILS), st.just("<EMAIL_ADDRESS_1>")),
                  min_size=1, max_size=150)


@settings(max_examples=120, deadline=None)
@given(tokens=tokens, sizes=sizes, holdback=holdbacks)
def test_hold_back_is_bounded_and_output_is_anonymised_and_restored_across_chunks(
        tokens: list[str], sizes: list[int], holdback: int) -> None:
    text = " ".join(tokens)
    restore = {"<EMAIL_ADDRESS_1>": "me@mine.example"}
    stream = Guard(PII_ANONYMISE).stream(restore=restore, holdback=holdback)
    out = []
    for chunk in chunked(text, sizes):
        step = stream.feed(chunk)
        assert not step.stop
        out.append(step.release)
        assert stream.fed - stream.released <= holdback + LONGEST_ENTITY
    last = stream.finish()
    out.append(last.release)
    numbers: dict[str, int] = {}
    expected = " ".join(restore.get(t) or (f"<EMAIL_ADDRESS_{numbers.setdefault(t, len(numbers) + 2)}>"
                                           if t in EMAILS else t) for t in tokens)
    assert "".join(out) == expected
    assert last.verdict is not None
    assert last.verdict.action == ("anonymise" if numbers else "allow")
    assert len(last.verdict.findings) == sum(t in EMAILS for t in tokens)


def test_release_waits_for_the_window_and_then_trails_by_at_most_holdback() -> None:
    stream = Guard(SECRETS_BLOCK).stream(holdback=40)
    assert stream.feed("a" * 40) == StreamStep("", False, None)
    step = stream.feed(" b")
    assert step.release == "a" * 12 and not step.stop  # released down to three quarters of the window
    assert stream.fed - stream.released == 30


def test_log_findings_are_reported_once_with_answer_offsets() -> None:
    policy = GuardPolicy.from_dict({"name": "p", "rules": [{"id": "w", "kind": "words", "action": "log",
                                                            "direction": "output", "params": {"words": ["orion"]}}]})
    text = " ".join(["orion"] + WORDS * 10 + ["orion"])
    released, steps = run(Guard(policy).stream(holdback=32), chunked(text, [3, 7]))
    assert released == text
    verdict = steps[-1].verdict
    assert verdict is not None and verdict.action == "allow"
    assert [(f.start, f.end) for f in verdict.findings] == [(m.start(), m.end()) for m in re.finditer("orion", text)]


def test_without_output_rules_text_passes_at_once_and_placeholders_are_restored() -> None:
    stream = Guard(INPUT_ONLY).stream(restore={"<EMAIL_ADDRESS_1>": "ann@example.com"})
    assert stream.feed("Mail sent to ").release == "Mail sent to "
    assert stream.feed("<EMAIL_").release == ""
    assert stream.feed("ADDRESS_1> today").release == "ann@example.com today"
    assert stream.feed(" <B").release == " "
    last = stream.finish()
    assert last.release == "<B" and last.verdict is not None and last.verdict.action == "allow"


def test_a_block_stops_the_stream_for_good() -> None:
    stream = Guard(SECRETS_BLOCK).stream(holdback=32)
    _, steps = run(stream, [f"key {AWS_KEY} and then a lot more text that follows it"])
    assert steps[-1].stop
    assert stream.feed("more") == StreamStep("", True, None)
    assert stream.finish() == StreamStep("", True, None)


class Down:
    def __call__(self, texts: list[str]) -> list[list[float]]:
        raise TimeoutError("embedding route timed out")


TOPIC = {"id": "t", "kind": "topic", "action": "block", "direction": "output",
         "params": {"topics": [{"name": "x", "examples": ["y"]}]}}


def test_a_detector_failing_mid_stream_stops_it_unless_the_policy_fails_open() -> None:
    closed = Guard(GuardPolicy.from_dict({"name": "p", "rules": [TOPIC]}), embed=Down()).stream(holdback=8)
    _, steps = run(closed, ["some answer text that is long enough"])
    assert steps[-1].stop and steps[-1].verdict is not None
    assert steps[-1].verdict.reason == GUARD_UNAVAILABLE
    assert [(f.kind, f.action) for f in steps[-1].verdict.findings] == [("error", "block")]
    opened = Guard(GuardPolicy.from_dict({"name": "p", "rules": [TOPIC], "fail_open": True}),
                   embed=Down()).stream(holdback=8)
    released, steps = run(opened, ["some answer text ", "that is long enough"])
    assert released == "some answer text that is long enough"
    assert steps[-1].verdict is not None
    assert [(f.kind, f.action, f.entity_types) for f in steps[-1].verdict.findings] == [
        ("error", "log", ("TimeoutError",))]


@pytest.mark.parametrize("holdback", [-1, 1.5, True])
def test_bad_holdback(holdback: object) -> None:
    with pytest.raises(GuardrailError) as caught:
        Guard(SECRETS_BLOCK).stream(holdback=holdback)  # type: ignore[arg-type]
    assert str(caught.value) == BAD_HOLDBACK.format(value=holdback)
