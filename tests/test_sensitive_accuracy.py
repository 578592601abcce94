"""Accuracy of the sensitive-data engine on the labelled corpus (``tests/sensitive_corpus.py``).

2,000 generated documents go through ``analyzer.scan_text`` with the default recognisers and minimum score;
every finding is compared with the labels by exact span (same entity, start and end). The per-entity floors:

* 0.97 precision and recall where a checksum or a published structure decides (cards, IBANs, SSN/ITIN ranges,
  NINO prefixes, NHS, SIN, CPF, CNPJ, IP, MAC, BTC/ETH, fixed-prefix tokens, JWT headers, PEM headers, e-mail):
  the corpus's look-alikes fail those checks, so a miss or a false alarm here is a bug, and 3 in 100 leaves room
  only for the rare value the corpus builds that a stricter-than-published rule refuses;
* 0.95 for values found by shape plus a context word (birth dates, AWS secret keys, high-entropy tokens next to
  "token"/"secret", passwords in connection strings and URLs): the word is always present in the corpus, so
  misses mean the window or the keyword list failed;
* phone numbers: 0.97 recall, 0.85 precision. There is no checksum, and a 3-3-4 digit group or an order number
  can be a dialable number as well, hence the lower precision floor; Presidio, with the same ``phonenumbers``
  library and US/GB/DE/FR/IL/IN/CA/BR regions, finds all of them at 0.44 precision on this corpus (see
  ``bench/sensitive_text.py``), and the issue asks for at least its recall.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive.analyzer import scan_text
from aicoe.engines.sensitive.model import Finding
from tests.sensitive_corpus import (
    ENTITIES,
    NER_ENTITIES,
    Doc,
    Miss,
    Tally,
    base58check,
    cnpj_digits,
    cpf_digits,
    eip55,
    evaluate,
    generate,
    iban,
    luhn_digit,
    nhs_digit,
    segwit_address,
)

CORPUS_DOCS = 2000
SEED = 7
MIN_LABELS = 80

CHECKED = (0.97, 0.97)
CONTEXTUAL = (0.95, 0.95)
FLOORS: dict[str, tuple[float, float]] = {
    **{entity: CHECKED for entity in ENTITIES},
    **{entity: CONTEXTUAL for entity in ("DATE_OF_BIRTH", "AWS_SECRET_ACCESS_KEY", "GENERIC_SECRET",
                                          "CONNECTION_STRING_PASSWORD", "URL_CREDENTIALS")},
    "PHONE_NUMBER": (0.85, 0.97),
}


@pytest.fixture(scope="module")
def corpus() -> list[Doc]:
    return generate(CORPUS_DOCS, SEED)


@pytest.fixture(scope="module")
def findings(corpus: list[Doc]) -> list[list[Finding]]:
    return [scan_text(doc.text) for doc in corpus]


@pytest.fixture(scope="module")
def scored(corpus: list[Doc], findings: list[list[Finding]]) -> tuple[dict[str, Tally], list[Miss]]:
    misses: list[Miss] = []
    predicted = [[(f.entity, f.start, f.end) for f in found] for found in findings]
    return evaluate(corpus, predicted, ENTITIES, misses), misses


def test_corpus_labels_every_entity_type_often_enough(corpus: list[Doc]) -> None:
    counts = Counter(span.entity for doc in corpus for span in doc.spans)
    assert {entity: counts[entity] for entity in ENTITIES if counts[entity] < MIN_LABELS} == {}
    assert Counter(doc.kind for doc in corpus).keys() == {"support_ticket", "hr_note", "payment_log", "config", "chat",
                                                          "ops_log"}


@pytest.mark.parametrize("entity", ENTITIES)
def test_precision_and_recall_reach_the_floor(entity: str, scored: tuple[dict[str, Tally], list[Miss]]) -> None:
    tallies, misses = scored
    tally, (min_precision, min_recall) = tallies[entity], FLOORS[entity]
    errors = [f"{m.kind} {m.value!r} in {m.line!r}" for m in misses if m.entity == entity][:12]
    assert tally.precision >= min_precision and tally.recall >= min_recall, (
        f"{entity}: precision {tally.precision:.3f} (floor {min_precision}), recall {tally.recall:.3f} "
        f"(floor {min_recall}), {tally}; first errors:\n" + "\n".join(errors))


def test_no_raw_value_in_a_finding_dict(corpus: list[Doc], findings: list[list[Finding]]) -> None:
    checked = 0
    for doc, found in zip(corpus, findings, strict=True):
        for finding in found:
            value = doc.text[finding.start:finding.end]
            assert value not in json.dumps(finding.as_dict(), ensure_ascii=False), (finding, value)
            checked += 1
    assert checked > len(corpus)


def test_the_corpus_is_the_same_for_the_same_seed() -> None:
    assert generate(30, 11) == generate(30, 11)
    assert generate(30, 11) != generate(30, 12)


def _luhn_ok(digits: str) -> bool:
    """Verification form (double every second digit from the right, sum divisible by 10), not the generator's."""
    total = sum(int(d) if i % 2 == 0 else sum(divmod(int(d) * 2, 10)) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def _iban_ok(value: str) -> bool:
    compact = value.replace(" ", "")
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_spans_are_exact_standalone_and_valid(seed: int) -> None:
    for doc in generate(4, seed):
        previous_end = 0
        for span in doc.spans:
            value = doc.text[span.start:span.end]
            assert span.entity in ENTITIES + NER_ENTITIES
            assert previous_end <= span.start < span.end <= len(doc.text)
            assert "\n" not in value and value == value.strip()
            before = doc.text[span.start - 1] if span.start else " "
            after = doc.text[span.end] if span.end < len(doc.text) else " "
            assert not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"), (value, doc.text)
            digits = "".join(c for c in value if c.isdigit())
            if span.entity == "CREDIT_CARD":
                assert 12 <= len(digits) <= 19 and _luhn_ok(digits)
            elif span.entity == "CA_SIN":
                assert len(digits) == 9 and _luhn_ok(digits)
            elif span.entity == "IBAN_CODE":
                assert _iban_ok(value)
            previous_end = span.end


def test_check_digit_helpers_reproduce_published_examples() -> None:
    assert luhn_digit("7992739871") == "3"  # ISO/IEC 7812 worked example 79927398713
    assert iban("GB", "WEST12345698765432") == "GB82WEST12345698765432"  # ECBS example
    assert nhs_digit("943476591") == 9  # NHS Digital example 943 476 5919
    assert cpf_digits("529982247") == "25"  # 529.982.247-25
    assert cnpj_digits("112223330001") == "81"  # 11.222.333/0001-81
    assert base58check(0, bytes(20)) == "1111111111111111111114oLvT2"  # P2PKH of the all-zero hash
    assert segwit_address(0, bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")) == \
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP-173 test vector
    assert segwit_address(1, bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")) == \
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"  # BIP-350 test vector
    assert eip55("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed") == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55
