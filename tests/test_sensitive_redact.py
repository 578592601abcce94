"""Redaction: operators exact on known findings, keyed pseudonyms and reversible encryption, same-format rewrites
that never touch their input, and ``aicoe redact`` end to end."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import gzip
import hashlib
import hmac
import io
import json
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from aicoe.cli.main import app
from aicoe.engines.sensitive import io as sensitive_io
from aicoe.engines.sensitive import redact as r
from aicoe.engines.sensitive import rewrite as rw
from aicoe.engines.sensitive import scanner
from aicoe.engines.sensitive.model import Finding, Reason
from aicoe.sensitive import cli_redact

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
EMAIL, CARD = "ann.lee@example.com", "4111 1111 1111 1111"
TOKEN = re.compile(r"<ENC:([A-Z_]+):([A-Za-z0-9_-]+)>")


def found(text: str, value: str, entity: str, *, occurrence: int = 0) -> Finding:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(value, start + 1)
    return Finding(entity, start, start + len(value), 0.9, "contact", "medium", Reason("test", "test"))


# --- operators -----------------------------------------------------------------------------------------------------

def test_mask_keeps_separators_and_the_last_characters() -> None:
    assert r.Mask().apply("4111-1111-1111-1234", "CREDIT_CARD") == "****-****-****-1234"
    assert r.Mask(keep_last=2, char="#").apply("+44 20 7946 0958", "PHONE_NUMBER") == "+## ## #### ##58"
    assert r.Mask(keep_last=0).apply("ann@ex.io", "EMAIL_ADDRESS") == "***@**.**"
    assert r.Mask(keep_last=10).apply("ab-12", "X") == "ab-12"
    assert r.Mask(keep_last=1, char="X").apply("Zoë 99", "PERSON") == "XXX X9"


def test_mask_refuses_bad_settings() -> None:
    with pytest.raises(ValueError) as exc:
        r.Mask(keep_last=-1)
    assert str(exc.value) == r.MASK_KEEP_NEGATIVE.format(value=-1) == "keep_last must be 0 or more, got -1"
    with pytest.raises(ValueError) as exc:
        r.Mask(char="**")
    assert str(exc.value) == "mask char must be exactly one character, got '**'"


def test_redact_and_replace() -> None:
    assert r.Redact().apply(EMAIL, "EMAIL_ADDRESS") == ""
    assert r.Replace().apply(EMAIL, "EMAIL_ADDRESS") == "<EMAIL_ADDRESS>"
    assert r.Replace("[removed]").apply(EMAIL, "EMAIL_ADDRESS") == "[removed]"


def test_hash_is_a_keyed_hmac_sha256_pseudonym() -> None:
    expected = hmac.new(KEY, EMAIL.encode(), hashlib.sha256).hexdigest()
    assert r.Hash(KEY).apply(EMAIL, "EMAIL_ADDRESS") == f"<EMAIL_ADDRESS:{expected[:16]}>"
    assert r.Hash(KEY, length=64).apply(EMAIL, "EMAIL_ADDRESS") == f"<EMAIL_ADDRESS:{expected}>"
    assert r.Hash(KEY).apply(EMAIL, "EMAIL_ADDRESS") == "<EMAIL_ADDRESS:f86c138c4d352a95>"
    assert r.Hash(OTHER_KEY).apply(EMAIL, "EMAIL_ADDRESS") != r.Hash(KEY).apply(EMAIL, "EMAIL_ADDRESS")
    assert repr(r.Hash(KEY)) == "Hash(length=16)"  # the key never shows


def test_hash_refuses_short_keys_and_bad_lengths() -> None:
    with pytest.raises(ValueError) as exc:
        r.Hash(b"k" * 15)
    assert str(exc.value) == "an HMAC key needs at least 16 bytes, got 15"
    with pytest.raises(ValueError) as exc:
        r.Hash(KEY, length=7)
    assert str(exc.value) == "hash length must be between 8 and 64 hex characters, got 7"


def test_encrypt_makes_a_fresh_token_per_value_that_decrypts_exactly() -> None:
    op = r.Encrypt(KEY)
    first, second = op.apply(EMAIL, "EMAIL_ADDRESS"), op.apply(EMAIL, "EMAIL_ADDRESS")
    assert first != second
    match = TOKEN.fullmatch(first)
    assert match is not None and match.group(1) == "EMAIL_ADDRESS"
    raw = base64.urlsafe_b64decode(match.group(2) + "=" * (-len(match.group(2)) % 4))
    assert len(raw) == 12 + len(EMAIL) + 16  # nonce | ciphertext | tag
    assert r.decrypt_text(f"to {first} and {second}.", KEY) == f"to {EMAIL} and {EMAIL}."
    assert r.Encrypt(KEY).decrypt(f"{first}{second}") == r.Decrypted(EMAIL * 2, ("EMAIL_ADDRESS", "EMAIL_ADDRESS"))
    assert repr(op) == "Encrypt()"


def test_encrypt_refuses_keys_that_are_not_aes_256() -> None:
    with pytest.raises(ValueError) as exc:
        r.Encrypt(b"k" * 16)
    assert str(exc.value) == "an AES-256 key must be exactly 32 bytes, got 16"
    with pytest.raises(ValueError) as exc:
        r.Encrypt(KEY).apply("x", "BAD:NAME")
    assert str(exc.value) == r.ENTITY_NOT_TOKENIZABLE.format(entity="BAD:NAME")


def _flip(token: str, position: int) -> str:
    match = TOKEN.fullmatch(token)
    assert match is not None
    payload = match.group(2)
    swapped = "A" if payload[position] != "A" else "B"
    return f"<ENC:{match.group(1)}:{payload[:position]}{swapped}{payload[position + 1:]}>"


@pytest.mark.parametrize("tamper", [
    lambda t: _flip(t, 3),  # in the nonce
    lambda t: _flip(t, 20),  # in the ciphertext
    lambda t: _flip(t, -2),  # in the tag
    lambda t: t.replace("EMAIL_ADDRESS", "PHONE_NUMBER"),  # the entity is bound as associated data
    lambda t: t[:-1],  # cut short
    lambda t: t[:24] + "!" + t[25:],  # not base64url any more
    lambda t: t[:20] + ">",  # too short to hold a nonce and a tag
])
def test_a_modified_token_is_refused_with_its_offset(tamper) -> None:  # noqa: ANN001
    token = r.Encrypt(KEY).apply(EMAIL, "EMAIL_ADDRESS")
    with pytest.raises(r.DecryptionError) as exc:
        r.decrypt_text("mail: " + tamper(token), KEY)
    assert str(exc.value) == r.TOKEN_INVALID.format(offset=6) == (
        "the encrypted token at offset 6 cannot be decrypted: wrong key or a modified token")


def test_the_wrong_key_is_refused() -> None:
    token = r.Encrypt(KEY).apply(EMAIL, "EMAIL_ADDRESS")
    with pytest.raises(r.DecryptionError) as exc:
        r.decrypt_text(token, OTHER_KEY)
    assert str(exc.value) == r.TOKEN_INVALID.format(offset=0)


def test_parse_key_reads_hex_and_base64() -> None:
    assert r.parse_key(KEY.hex()) == KEY
    assert r.parse_key(KEY.hex().upper() + "\n") == KEY
    assert r.parse_key(base64.b64encode(KEY).decode()) == KEY
    assert r.parse_key(base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode().rstrip("=")) == b"\xfb\xff" * 16
    with pytest.raises(ValueError) as exc:
        r.parse_key("not a key!")
    assert str(exc.value) == "a key must be hex or base64 text"


# --- anonymize -----------------------------------------------------------------------------------------------------

def test_anonymize_applies_each_entity_operator_and_records_offsets_not_values() -> None:
    text = f"Mail {EMAIL} or pay with {CARD} today."
    findings = [found(text, CARD, "CREDIT_CARD"), found(text, EMAIL, "EMAIL_ADDRESS")]  # any order
    done = r.anonymize(text, findings, {"CREDIT_CARD": r.Mask()})
    assert done.text == "Mail <EMAIL_ADDRESS> or pay with **** **** **** 1111 today."
    assert done.items == (r.AnonymizedItem("EMAIL_ADDRESS", 5, 24, 5, 20, "replace"),
                          r.AnonymizedItem("CREDIT_CARD", 37, 56, 33, 52, "mask"))
    for item in done.items:
        assert done.text[item.new_start:item.new_end] in ("<EMAIL_ADDRESS>", "**** **** **** 1111")
    assert done.counts() == {"EMAIL_ADDRESS": 1, "CREDIT_CARD": 1}
    assert r.anonymize(text, findings, default=r.Redact()).text == "Mail  or pay with  today."
    assert r.anonymize(text, []).text == text


def test_anonymize_refuses_overlapping_or_out_of_range_findings() -> None:
    text = "call 0207 946 0958 now"
    a = Finding("PHONE_NUMBER", 5, 18, 0.9, "contact", "medium", Reason("t", "t"))
    b = Finding("UK_NHS", 10, 22, 0.9, "health", "high", Reason("t", "t"))
    with pytest.raises(ValueError) as exc:
        r.anonymize(text, [b, a])
    assert str(exc.value) == ("findings PHONE_NUMBER at 5:18 and UK_NHS at 10:22 overlap; resolve overlaps first "
                              "(the analyzer does)")
    with pytest.raises(ValueError) as exc:
        r.anonymize(text, [Finding("X", 20, 40, 0.9, "contact", "low", Reason("t", "t"))])
    assert str(exc.value) == "finding X at 20:40 lies outside a text of 22 characters"


@st.composite
def text_with_findings(draw: st.DrawFn) -> tuple[str, list[Finding]]:
    text = draw(st.text(max_size=200))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=12))))
    entities = st.sampled_from(["EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "PERSON"])
    findings = [Finding(draw(entities), start, end, 0.9, "contact", "medium", Reason("t", "t"))
                for start, end in zip(cuts[::2], cuts[1::2], strict=False) if start < end]
    return text, findings


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(text_with_findings())
def test_decrypt_reverses_encrypt_for_any_text(case: tuple[str, list[Finding]]) -> None:
    text, findings = case
    assume(r.ENC_PREFIX not in text)
    done = r.anonymize(text, findings, default=r.Encrypt(KEY))
    assert len(TOKEN.findall(done.text)) == len(findings)
    assert r.decrypt_text(done.text, KEY) == text
    for item in done.items:
        assert done.text[item.new_start:item.new_end].startswith(f"<ENC:{item.entity}:")


@settings(max_examples=150)
@given(text_with_findings())
def test_anonymize_changes_only_the_found_spans(case: tuple[str, list[Finding]]) -> None:
    text, findings = case
    done = r.anonymize(text, list(reversed(findings)), default=r.Replace())
    expected, pos = [], 0
    for item, finding in zip(done.items, findings, strict=True):
        assert (item.entity, item.start, item.end, item.operator) == (finding.entity, finding.start, finding.end,
                                                                      "replace")
        expected += (text[pos:item.start], f"<{item.entity}>")
        pos = item.end
        assert done.text[item.new_start:item.new_end] == f"<{item.entity}>"
    assert done.text == "".join(expected) + text[pos:]


# --- rewriting files in the same format ----------------------------------------------------------------------------

CSV_IN = ('id,name,email,card,note\r\n'
          '1,Ann Lee,ann.lee@example.com,4111 1111 1111 1111,"likes tea, coffee"\r\n'
          '2,Bob Stone,bob@example.org,,"call ""Bob"" later"\r\n'
          '3,Cy,,5500 0000 0000 0004,plain')
CSV_OUT = ('id,name,email,card,note\r\n'
           '1,Ann Lee,<EMAIL_ADDRESS>,<CREDIT_CARD>,"likes tea, coffee"\r\n'
           '2,Bob Stone,<EMAIL_ADDRESS>,,"call ""Bob"" later"\r\n'
           '3,Cy,,<CREDIT_CARD>,plain')


def write(path: Path, content: str | bytes) -> Path:
    data = content.encode() if isinstance(content, str) else content
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_csv_keeps_delimiter_header_quoting_line_endings_and_the_missing_final_newline(tmp_path: Path) -> None:
    src = write(tmp_path / "people.csv", CSV_IN)
    result = rw.redact_file(src, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == CSV_OUT.encode()
    assert (result.records, result.counts, result.total) == (3, {"CREDIT_CARD": 2, "EMAIL_ADDRESS": 2}, 4)
    assert result.format == sensitive_io.FileFormat("csv", False)
    assert src.read_bytes() == CSV_IN.encode()


def test_csv_quoted_throughout_stays_quoted_and_a_clean_file_comes_out_identical(tmp_path: Path) -> None:
    src = write(tmp_path / "q.csv", '"id","email"\n"1","ann.lee@example.com"\n"2","none"\n')
    rw.redact_file(src, tmp_path / "q2.csv")
    assert (tmp_path / "q2.csv").read_text() == '"id","email"\n"1","<EMAIL_ADDRESS>"\n"2","none"\n'
    clean = write(tmp_path / "clean.csv", 'a,b\r\n1,"x, y"\r\n\r\n2,z\r\n')
    assert rw.redact_file(clean, tmp_path / "clean2.csv").total == 0
    assert (tmp_path / "clean2.csv").read_bytes() == clean.read_bytes()


def test_a_semicolon_csv_is_redacted_field_by_field_and_keeps_its_separator(tmp_path: Path) -> None:
    src = write(tmp_path / "export.csv", "name;email;note\r\nAnn;ann.lee@example.com;Smith, John\r\nBob;none;x\r\n")
    result = rw.redact_file(src, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == (b"name;email;note\r\nAnn;<EMAIL_ADDRESS>;Smith, John\r\n"
                                                   b"Bob;none;x\r\n")
    assert result.format == sensitive_io.FileFormat("csv", False, ";") and result.counts == {"EMAIL_ADDRESS": 1}


def test_gzip_tsv_stays_gzip_tsv(tmp_path: Path) -> None:
    src = write(tmp_path / "p.tsv.gz", "name\temail\nAnn\tann.lee@example.com, bob@example.org\n")
    result = rw.redact_file(src, tmp_path / "o.tsv.gz", default=r.Mask(keep_last=3))
    data = (tmp_path / "o.tsv.gz").read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert gzip.decompress(data) == b"name\temail\nAnn\t***.***@*******.com, ***@*******.org\n"
    assert result.format == sensitive_io.FileFormat("tsv", True) and result.counts == {"EMAIL_ADDRESS": 2}


def _parquet(path: Path) -> pa.Table:
    table = pa.table({
        "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "email": ["ann.lee@example.com", None, "mail bob@example.org now", "none", "cy@example.net"],
        "card": pa.array(["4111 1111 1111 1111", "n/a", "n/a", None, "4111 1111 1111 1111"]).dictionary_encode(),
        "score": pa.array([0.5, 1.5, None, 2.0, 3.0], pa.float64()),
        "tags": pa.array([["ann.lee@example.com"], [], None, ["x"], ["y"]], pa.list_(pa.string())),
    }).replace_schema_metadata({"owner": "crm"})
    pq.write_table(table, path, row_group_size=2, compression={"id": "snappy", "email": "zstd", "card": "gzip",
                                                                "score": "none", "tags.list.element": "snappy"})
    return table


def _codecs(path: Path) -> list[str]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(g).column(c).compression for g in range(meta.num_row_groups)
            for c in range(meta.num_columns)]


def test_parquet_keeps_schema_row_groups_and_compression_and_changes_only_string_columns(tmp_path: Path) -> None:
    table = _parquet(tmp_path / "t.parquet")
    result = rw.redact_file(tmp_path / "t.parquet", tmp_path / "o.parquet")
    before, after = pq.ParquetFile(tmp_path / "t.parquet"), pq.ParquetFile(tmp_path / "o.parquet")
    assert after.schema_arrow.equals(before.schema_arrow, check_metadata=True)
    assert after.schema_arrow.metadata[b"owner"] == b"crm"
    assert [after.metadata.row_group(i).num_rows for i in range(after.num_row_groups)] == [2, 2, 1]
    assert _codecs(tmp_path / "o.parquet") == _codecs(tmp_path / "t.parquet")
    out = pq.read_table(tmp_path / "o.parquet")
    assert out.column("email").to_pylist() == ["<EMAIL_ADDRESS>", None, "mail <EMAIL_ADDRESS> now", "none",
                                               "<EMAIL_ADDRESS>"]
    assert out.column("card").to_pylist() == ["<CREDIT_CARD>", "n/a", "n/a", None, "<CREDIT_CARD>"]
    assert out.column("tags").to_pylist() == [["<EMAIL_ADDRESS>"], [], None, ["x"], ["y"]]  # each element
    for name in ("id", "score"):
        assert out.column(name).equals(table.column(name))
    assert (result.records, result.counts) == (5, {"CREDIT_CARD": 2, "EMAIL_ADDRESS": 4})


def test_parquet_struct_fields_are_rewritten_where_the_scanner_reads_them(tmp_path: Path) -> None:
    """A struct's text fields, at any depth, are scanned as "parent.child" columns; a copy must not keep what a scan
    of them finds. The struct keeps its schema and its null rows."""
    contact = pa.array([{"email": "ann.lee@example.com", "meta": {"card": "4111 1111 1111 1111", "n": 1}},
                        None, {"email": "none", "meta": None}, {"email": None, "meta": {"card": "n/a", "n": 2}}])
    table = pa.table({"id": [1, 2, 3, 4], "contact": contact})
    pq.write_table(table, tmp_path / "s.parquet")
    found = scanner.scan_paths(tmp_path / "s.parquet")
    assert sorted((g.column, g.entity) for g in found.findings) == [("contact.email", "EMAIL_ADDRESS"),
                                                                    ("contact.meta.card", "CREDIT_CARD")]
    result = rw.redact_file(tmp_path / "s.parquet", tmp_path / "o.parquet")
    out = pq.read_table(tmp_path / "o.parquet")
    assert out.schema.equals(table.schema)
    assert out.column("contact").to_pylist() == [
        {"email": "<EMAIL_ADDRESS>", "meta": {"card": "<CREDIT_CARD>", "n": 1}}, None,
        {"email": "none", "meta": None}, {"email": None, "meta": {"card": "n/a", "n": 2}}]
    assert out.column("id").equals(table.column("id"))
    assert result.counts == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1}
    assert scanner.scan_paths(tmp_path / "o.parquet").findings == []


def test_a_number_or_date_column_read_as_an_identifier_loses_the_values_found_and_keeps_its_type(
        tmp_path: Path) -> None:
    """The scanner reads an integer column named like an identifier (``ssn``) as text; a value found there cannot
    become "<US_SSN>" in an int64 column, so it becomes null. Other columns of the same type stay as they were."""
    table = pa.table({"ssn": pa.array([536228745, 123, None, 536228745], pa.int64()),
                      "price": pa.array([536228745, 1, 2, 3], pa.int64()),
                      "birth_date": pa.array([dt.date(1990, 5, 17), None, dt.date(2999, 1, 1), dt.date(1985, 1, 2)])})
    pq.write_table(table, tmp_path / "t.parquet")
    assert sorted((g.column, g.entity, g.count) for g in scanner.scan_paths(tmp_path / "t.parquet").findings) == [
        ("birth_date", "DATE_OF_BIRTH", 2), ("ssn", "US_SSN", 2)]
    result = rw.redact_file(tmp_path / "t.parquet", tmp_path / "o.parquet")
    out = pq.read_table(tmp_path / "o.parquet")
    assert out.schema.equals(table.schema)
    assert out.to_pydict() == {"ssn": [None, 123, None, None], "price": [536228745, 1, 2, 3],
                               "birth_date": [None, None, dt.date(2999, 1, 1), None]}
    assert result.counts == {"DATE_OF_BIRTH": 2, "US_SSN": 2}
    assert scanner.scan_paths(tmp_path / "o.parquet").findings == []


def test_jsonl_keeps_keys_and_non_string_values_byte_for_byte(tmp_path: Path) -> None:
    src = write(tmp_path / "e.jsonl",
                '{"user": {"email": "ann.lee@example.com", "age": 41}, "paid": 1.50, "ok": true}\r\n'
                '{"note":"no personal data","n":null}\n'
                '\n'
                '{"emails": ["bob@example.org", "x"], "card" : "4111 1111 1111 1111", "q": "a \\"b\\" \\u00e9"}')
    result = rw.redact_file(src, tmp_path / "o.jsonl")
    assert (tmp_path / "o.jsonl").read_bytes().decode() == (
        '{"user": {"email": "<EMAIL_ADDRESS>", "age": 41}, "paid": 1.50, "ok": true}\r\n'
        '{"note":"no personal data","n":null}\n'
        '\n'
        '{"emails": ["<EMAIL_ADDRESS>", "x"], "card" : "<CREDIT_CARD>", "q": "a \\"b\\" \\u00e9"}')
    assert (result.records, result.counts) == (4, {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 2})


def test_json_numbers_the_scanner_reads_are_replaced_by_text_and_their_line_written_whole(tmp_path: Path) -> None:
    """The scanner reads an integer under an identifier-like key (``ssn``, ``customer.phone``) and every number
    inside a list (a list is read as its JSON text); a copy must not keep what it finds there. JSON has no schema,
    so the number becomes the replacement text; other numbers and lines stay byte for byte."""
    src = write(tmp_path / "n.jsonl", '{"ssn": 536228745,  "price": 536228745}\n'
                                      '{"customer": {"phone": 2125550147}, "refs": [4111111111111111, 7]}\n'
                                      '{"ssn": 12, "note": "ok"}\n')
    found = scanner.scan_paths(src)
    assert sorted((g.column, g.entity, g.count) for g in found.findings) == [
        ("customer.phone", "PHONE_NUMBER", 1), ("refs", "CREDIT_CARD", 1), ("ssn", "US_SSN", 1)]
    result = rw.redact_file(src, tmp_path / "o.jsonl")
    assert (tmp_path / "o.jsonl").read_text() == (
        '{"ssn": "<US_SSN>", "price": 536228745}\n'
        '{"customer": {"phone": "<PHONE_NUMBER>"}, "refs": ["<CREDIT_CARD>", 7]}\n'
        '{"ssn": 12, "note": "ok"}\n')
    assert result.counts == {"CREDIT_CARD": 1, "PHONE_NUMBER": 1, "US_SSN": 1}
    assert scanner.scan_paths(tmp_path / "o.jsonl").findings == []


def test_text_keeps_everything_but_the_values(tmp_path: Path) -> None:
    src = write(tmp_path / "n.txt", "Dear Ann,\r\nwrite to ann.lee@example.com.\r\nCard: 4111 1111 1111 1111")
    result = rw.redact_file(src, tmp_path / "o.txt", operators={"CREDIT_CARD": r.Mask()}, default=r.Redact())
    assert (tmp_path / "o.txt").read_bytes() == b"Dear Ann,\r\nwrite to .\r\nCard: **** **** **** 1111"
    assert result.records == 3


def test_hash_pseudonyms_join_across_files_and_runs_with_the_same_key_only(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", "email\nann.lee@example.com\n")
    b = write(tmp_path / "b.jsonl", '{"contact": "write to ann.lee@example.com"}\n')
    rw.redact_file(a, tmp_path / "a1.csv", default=r.Hash(KEY))
    rw.redact_file(b, tmp_path / "b1.jsonl", default=r.Hash(KEY))
    rw.redact_file(b, tmp_path / "b2.jsonl", default=r.Hash(OTHER_KEY))
    pseudonym = r.Hash(KEY).apply(EMAIL, "EMAIL_ADDRESS")
    assert (tmp_path / "a1.csv").read_text() == f"email\n{pseudonym}\n"
    assert json.loads((tmp_path / "b1.jsonl").read_text()) == {"contact": f"write to {pseudonym}"}
    other = json.loads((tmp_path / "b2.jsonl").read_text())["contact"]
    assert other == f"write to {r.Hash(OTHER_KEY).apply(EMAIL, 'EMAIL_ADDRESS')}" and pseudonym not in other


def test_encrypted_copies_decrypt_back_to_the_original(tmp_path: Path) -> None:
    src = write(tmp_path / "p.csv", CSV_IN)
    rw.redact_file(src, tmp_path / "enc.csv", default=r.Encrypt(KEY))
    encrypted = (tmp_path / "enc.csv").read_text()
    assert EMAIL not in encrypted and len(TOKEN.findall(encrypted)) == 4
    result = rw.decrypt_file(tmp_path / "enc.csv", tmp_path / "dec.csv", key=KEY)
    assert (tmp_path / "dec.csv").read_bytes() == src.read_bytes()
    assert result.counts == {"CREDIT_CARD": 2, "EMAIL_ADDRESS": 2}
    table = _parquet(tmp_path / "t.parquet")
    rw.redact_file(tmp_path / "t.parquet", tmp_path / "enc.parquet", default=r.Encrypt(KEY))
    rw.decrypt_file(tmp_path / "enc.parquet", tmp_path / "dec.parquet", key=KEY)
    decrypted = pq.read_table(tmp_path / "dec.parquet")
    assert decrypted.schema.equals(pq.read_schema(tmp_path / "t.parquet"), check_metadata=True)
    assert decrypted.to_pylist() == table.to_pylist()


def test_the_input_is_never_overwritten(tmp_path: Path) -> None:
    src = write(tmp_path / "p.csv", CSV_IN)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.csv").symlink_to(src)
    for target in (src, tmp_path / "sub" / ".." / "p.csv", tmp_path / "link.csv"):
        for force in (False, True):
            with pytest.raises(rw.RewriteError) as exc:
                rw.redact_file(src, target, force=force)
            assert str(exc.value) == f"refusing to write {target}: it is the input file"
    os.link(src, tmp_path / "hard.csv")
    with pytest.raises(rw.RewriteError):
        rw.redact_file(src, tmp_path / "hard.csv", force=True)
    assert src.read_bytes() == CSV_IN.encode()
    assert listing(tmp_path) == ["hard.csv", "link.csv", "p.csv", "sub"]


def test_an_existing_target_is_replaced_only_with_force(tmp_path: Path) -> None:
    src = write(tmp_path / "p.csv", CSV_IN)
    old = write(tmp_path / "o.csv", "keep me")
    with pytest.raises(rw.RewriteError) as exc:
        rw.redact_file(src, old)
    assert str(exc.value) == rw.TARGET_EXISTS.format(target=old) == (
        f"refusing to overwrite {old}: it exists (pass --force to replace it)")
    assert old.read_text() == "keep me"
    rw.redact_file(src, old, force=True)
    assert old.read_bytes() == CSV_OUT.encode()
    (tmp_path / "sub").mkdir()
    with pytest.raises(rw.RewriteError) as exc:
        rw.redact_file(src, tmp_path / "sub", force=True)
    assert str(exc.value) == f"{tmp_path / 'sub'} is a directory"
    with pytest.raises(rw.RewriteError) as exc:
        rw.redact_file(src, tmp_path / "missing" / "o.csv")
    assert str(exc.value) == f"the folder {tmp_path / 'missing'} does not exist"


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("bad.jsonl", '{"email": "ann.lee@example.com"}\n{"broken": \n', sensitive_io.INVALID_JSON.format(line=2)),
    ("latin.csv", "name\nAnn\nJos\xe9 ann.lee@example.com\n".encode("latin-1"),
     sensitive_io.NOT_UTF8.format(byte=0xE9, offset=12)),
    ("quote.csv", 'a,b\n1,"x"y\n', sensitive_io.CSV_MALFORMED.format(kind="CSV")),
    ("cut.csv.gz", gzip.compress(b"email\n" + b"ann.lee@example.com\n" * 500, mtime=0)[:60],
     sensitive_io.TRUNCATED_GZIP),
    ("bad.parquet", b"PAR1" + b"\x00" * 40 + b"PAR1", sensitive_io.CORRUPT_FILE.format(kind="Parquet")),
])
def test_unreadable_input_is_reported_and_leaves_no_target(tmp_path: Path, name: str, content: str | bytes,
                                                           reason: str) -> None:
    src = tmp_path / name
    src.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(sensitive_io.UnreadableFile) as exc:
        rw.redact_file(src, tmp_path / f"out-{name}")
    assert exc.value.reason == reason
    assert listing(tmp_path) == [name]


def test_a_damaged_token_stops_decryption(tmp_path: Path) -> None:
    token = r.Encrypt(KEY).apply(EMAIL, "EMAIL_ADDRESS")
    write(tmp_path / "e.csv", f"email\n{token}\n{_flip(token, 20)}\n")
    with pytest.raises(r.DecryptionError):
        rw.decrypt_file(tmp_path / "e.csv", tmp_path / "d.csv", key=KEY)
    assert listing(tmp_path) == ["e.csv"]


def test_column_names_are_context(tmp_path: Path) -> None:
    src = write(tmp_path / "s.csv", "customerSsn,ref\n536228745,536228745\n")
    rw.redact_file(src, tmp_path / "o.csv", entities=["US_SSN"])
    assert (tmp_path / "o.csv").read_text() == "customerSsn,ref\n<US_SSN>,536228745\n"


# --- aicoe redact --------------------------------------------------------------------------------------------------

runner = CliRunner()
ENV = {"COLUMNS": "250", "REDACT_KEY": KEY.hex(), "SHORT_KEY": "00" * 8, "B64_KEY": base64.b64encode(KEY).decode(),
       "BAD_KEY": "not a key!"}


def cli(*args: str | Path):  # noqa: ANN201
    return runner.invoke(app, ["redact", *map(str, args)], env=ENV, catch_exceptions=False)


def test_cli_replaces_by_default_and_prints_counts_per_entity(tmp_path: Path) -> None:
    src, out = write(tmp_path / "p.csv", CSV_IN), tmp_path / "o.csv"
    res = cli(src, out)
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == CSV_OUT.encode()
    assert re.search(r"CREDIT_CARD\s+│\s+2", res.output) and re.search(r"EMAIL_ADDRESS\s+│\s+2", res.output)
    assert f"4 values replaced in 3 rows; wrote {out} (CSV)" in res.output
    assert EMAIL not in res.output


def test_cli_mask_with_entities_and_keep_last(tmp_path: Path) -> None:
    src, out = write(tmp_path / "p.csv", CSV_IN), tmp_path / "o.csv"
    res = cli(src, out, "--operator", "mask", "--keep-last", "2", "--entities", "credit_card")
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert [row[2:4] for row in rows] == [["email", "card"], [EMAIL, "**** **** **** **11"],
                                          ["bob@example.org", ""], ["", "**** **** **** **04"]]
    assert "2 values replaced in 3 rows" in res.output


def test_cli_hash_and_encrypt_then_decrypt(tmp_path: Path) -> None:
    src = write(tmp_path / "p.csv", CSV_IN)
    assert cli(src, tmp_path / "h.csv", "--operator", "hash", "--key-env", "REDACT_KEY").exit_code == 0
    assert r.Hash(KEY).apply(EMAIL, "EMAIL_ADDRESS") in (tmp_path / "h.csv").read_text()
    assert cli(src, tmp_path / "e.csv", "--operator", "encrypt", "--key-env", "B64_KEY").exit_code == 0
    res = cli("--decrypt", tmp_path / "e.csv", tmp_path / "d.csv", "--key-env", "REDACT_KEY")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "d.csv").read_bytes() == src.read_bytes()
    assert "4 values decrypted in 3 rows" in res.output


@pytest.mark.parametrize(("args", "message"), [
    (["--operator", "hash"], "--operator hash needs a key: name an environment variable holding it with --key-env"),
    (["--operator", "encrypt", "--key-env", "NO_SUCH_VAR"], "the environment variable NO_SUCH_VAR is not set"),
    (["--operator", "hash", "--key-env", "SHORT_KEY"],
     "the key in SHORT_KEY: an HMAC key needs at least 16 bytes, got 8"),
    (["--operator", "encrypt", "--key-env", "SHORT_KEY"],
     "the key in SHORT_KEY: an AES-256 key must be exactly 32 bytes, got 8"),
    (["--operator", "hash", "--key-env", "BAD_KEY"], "the key in BAD_KEY: a key must be hex or base64 text"),
    (["--keep-last", "2"], cli_redact.KEEP_LAST_NOT_APPLICABLE),
    (["--operator", "mask", "--key-env", "REDACT_KEY"], cli_redact.KEY_ENV_NOT_APPLICABLE),
    (["--entities", "EMAIL_ADDRESS,SHOE_SIZE"], "unknown entity type 'SHOE_SIZE'; supported: "),
    (["--decrypt"], "--decrypt needs a key: name an environment variable holding it with --key-env"),
    (["--decrypt", "--key-env", "SHORT_KEY"], "the key in SHORT_KEY: an AES-256 key must be exactly 32 bytes, got 8"),
    (["--decrypt", "--key-env", "REDACT_KEY", "--operator", "mask"], cli_redact.DECRYPT_OPTIONS),
])
def test_cli_usage_errors_exit_2_and_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    src = write(tmp_path / "p.csv", CSV_IN)
    res = cli(src, tmp_path / "o.csv", *args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert listing(tmp_path) == ["p.csv"]


def test_cli_refusals_and_unreadable_files_exit_1(tmp_path: Path) -> None:
    src = write(tmp_path / "p.csv", CSV_IN)
    res = cli(src, src, "--force")
    assert res.exit_code == 1 and f"refusing to write {src}: it is the input file" in res.output
    write(tmp_path / "o.csv", "old")
    res = cli(src, tmp_path / "o.csv")
    assert res.exit_code == 1 and "it exists (pass --force to replace it)" in res.output
    assert (tmp_path / "o.csv").read_text() == "old"
    write(tmp_path / "bad.jsonl", "{\n")
    res = cli(tmp_path / "bad.jsonl", tmp_path / "o.jsonl")
    assert res.exit_code == 1 and f"cannot read {tmp_path / 'bad.jsonl'}: invalid JSON on line 1" in res.output
    token = r.Encrypt(KEY).apply(EMAIL, "EMAIL_ADDRESS")
    write(tmp_path / "e.csv", f"email\n{token}\n")
    res = cli("--decrypt", tmp_path / "e.csv", tmp_path / "d.csv", "--key-env", "B64_KEY")
    assert res.exit_code == 0
    res = runner.invoke(app, ["redact", "--decrypt", str(tmp_path / "e.csv"), str(tmp_path / "d2.csv"),
                              "--key-env", "K"], env={"K": OTHER_KEY.hex()})
    assert res.exit_code == 1 and r.TOKEN_INVALID.format(offset=0) in res.output
    assert listing(tmp_path) == ["bad.jsonl", "d.csv", "e.csv", "o.csv", "p.csv"]


CELLS = st.one_of(st.text(max_size=12), st.sampled_from([EMAIL, CARD, "bob@example.org", "ring +44 20 7946 0958"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(CELLS, min_size=1, max_size=4), min_size=1, max_size=6),
       terminator=st.sampled_from(["\n", "\r\n"]), quote_all=st.booleans(), final_newline=st.booleans(),
       tsv=st.booleans())
def test_any_csv_survives_encrypt_then_decrypt_byte_for_byte(tmp_path_factory: pytest.TempPathFactory,
                                                             rows: list[list[str]], terminator: str,
                                                             quote_all: bool, final_newline: bool, tsv: bool) -> None:
    assume(not any(r.ENC_PREFIX in cell for row in rows for cell in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if tsv else ",", lineterminator=terminator,
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(rows[0])
    header = len(buffer.getvalue().encode())
    writer.writerows(rows[1:])
    content = buffer.getvalue() if final_newline else buffer.getvalue().removesuffix(terminator)
    folder = tmp_path_factory.mktemp("csv")
    suffix = ".tsv" if tsv else ".csv"
    src, enc, dec = folder / f"in{suffix}", folder / f"enc{suffix}", folder / f"dec{suffix}"
    rw.redact_file(write(src, content), enc, default=r.Encrypt(KEY))
    rw.decrypt_file(enc, dec, key=KEY)
    assert EMAIL.encode() not in enc.read_bytes()[header:]  # the header is copied as it is
    assert dec.read_bytes() == content.encode()


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | CELLS,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4), min_size=1, max_size=5),
       compact=st.booleans(), ascii_only=st.booleans())
def test_any_json_lines_survive_encrypt_then_decrypt_byte_for_byte(tmp_path_factory: pytest.TempPathFactory,
                                                                   docs: list[dict], compact: bool,
                                                                   ascii_only: bool) -> None:
    separators = (",", ":") if compact else (", ", ": ")
    content = "".join(json.dumps(doc, separators=separators, ensure_ascii=ascii_only) + "\n" for doc in docs)
    assume(r.ENC_PREFIX not in content)
    folder = tmp_path_factory.mktemp("jsonl")
    src = write(folder / "in.jsonl", content)
    rw.redact_file(src, folder / "enc.jsonl", default=r.Encrypt(KEY))
    rw.decrypt_file(folder / "enc.jsonl", folder / "dec.jsonl", key=KEY)
    assert EMAIL not in (folder / "enc.jsonl").read_text()
    assert (folder / "dec.jsonl").read_bytes() == content.encode()
