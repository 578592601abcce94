"""The file store and the upload/download API: content addressing and dedupe, the size limit, type checks with
magic-byte sniffing, downloads with the right headers, permissions. Nothing is left behind by a refused upload.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.app import create_app
from aicoe.core.errors import DomainError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from aicoe.files import types
from aicoe.files.service import clean_filename
from aicoe.files.store import LocalFileStore
from aicoe.models.audit import AuditEvent
from aicoe.models.files import StoredFile
from tests.factories import (
    PASSWORD,
    bearer,
    csrf_from,
    login,
    make_settings,
    make_token,
    make_unit,
    make_user,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(20)
ZIP = b"PK\x03\x04" + bytes(40)
GOOD = [
    ("report.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "application/pdf"),
    ("chart.PNG", PNG, "image/png"),
    ("photo.jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(10), "image/jpeg"),
    ("model card.docx", ZIP, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("scores.xlsx", ZIP, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("deck.pptx", ZIP, "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("predictions.parquet", b"PAR1" + bytes(32) + b"PAR1", "application/vnd.apache.parquet"),
    ("logs.jsonl.gz", gzip.compress(b'{"a": 1}\n', mtime=0), "application/gzip"),
    ("loans.csv", "id,région\n1,Île-de-France\n".encode(), "text/csv"),
    ("bom.csv", "\ufeffid\n1\n".encode(), "text/csv"),
    ("policy.json", b'{"threshold": 0.8}', "application/json"),
    ("events.jsonl", b'{"a": 1}\n{"a": 2}\n', "application/x-ndjson"),
    ("notes.txt", "caf\u00e9 \u2713\n".encode(), "text/plain"),
    ("README.md", b"# Title\n", "text/markdown"),
]


def check(name: str, data: bytes, declared: str | None = None, chunk: int = 7) -> types.FileType:
    """Run the type rules the way an upload does: detect by name, then feed the bytes in small chunks."""
    filetype = types.detect(name, declared)
    inspector = types.ContentCheck(filetype, name)
    for i in range(0, len(data), chunk):
        inspector.feed(data[i:i + chunk])
    inspector.finish()
    return filetype


def stored_blobs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts)


# --- the store ---------------------------------------------------------------------------------------------------

def test_store_addresses_content_by_sha256_and_keeps_one_copy(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    data = b"same bytes, different names"
    first = store.put(io.BytesIO(data))
    second = store.put(io.BytesIO(data))
    sha = hashlib.sha256(data).hexdigest()
    assert first == second == (sha, len(data))
    assert stored_blobs(tmp_path / "files") == [tmp_path / "files" / sha[:2] / sha[2:4] / sha]
    assert list((tmp_path / "files" / "tmp").iterdir()) == []
    with store.open(sha) as fh:
        assert fh.read() == data
    assert store.exists(sha)
    assert store.delete(sha) is True
    assert not store.exists(sha) and store.delete(sha) is False
    with pytest.raises(DomainError, match="missing from the file store"):
        store.open(sha)


def test_store_refuses_what_is_not_a_digest(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.open("../../etc/passwd")


def test_store_size_limit_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    with pytest.raises(PayloadTooLarge, match="larger than the upload limit of 1 KiB"):
        store.put(io.BytesIO(b"x" * 1025), max_bytes=1024)
    assert stored_blobs(tmp_path / "files") == [] and list((tmp_path / "files" / "tmp").iterdir()) == []
    assert store.put(io.BytesIO(b"x" * 1024), max_bytes=1024).size == 1024


def test_store_refused_content_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    filetype = types.detect("chart.png", None)
    with pytest.raises(UnsupportedMediaType):
        store.put(io.BytesIO(b"GIF89a" + bytes(100)), check=types.ContentCheck(filetype, "chart.png"))
    assert stored_blobs(tmp_path / "files") == [] and list((tmp_path / "files" / "tmp").iterdir()) == []


# --- type rules --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "data", "content_type"), GOOD, ids=[g[0] for g in GOOD])
def test_accepted_types(name: str, data: bytes, content_type: str) -> None:
    assert check(name, data).content_type == content_type
    assert check(name, data, "application/octet-stream").content_type == content_type
    assert check(name, data, content_type + "; charset=utf-8", chunk=1).content_type == content_type


@pytest.mark.parametrize(("name", "data", "declared", "message"), [
    ("report.pdf", b"<html>not a pdf</html>", None, "the content of 'report.pdf' is not a PDF document"),
    ("chart.png", b"%PDF-1.7", "image/png", "is not a PNG image"),
    ("tiny.png", b"\x89PNG", None, "is not a PNG image"),
    ("model.docx", b"%PDF-1.4 renamed", None, "is not a Word document"),
    ("data.parquet", b"PAR1" + bytes(16), None, "is not a Parquet file"),
    ("logs.gz", b"plain text", None, "is not a gzip archive"),
    ("loans.csv", "id,région\n".encode("latin-1"), None,
     "'loans.csv' is not UTF-8 text (invalid byte sequence at offset 4)"),
    ("cut.csv", b"id\n\xc3", None, "'cut.csv' is not UTF-8 text (invalid byte sequence at offset 3)"),
    ("split.txt", b"abcdef\xc3A", None, "'split.txt' is not UTF-8 text (invalid byte sequence at offset 6)"),
    ("notes.txt", b"ab\x00cd", None, "contains binary data (a NUL byte at offset 2)"),
    ("setup.exe", b"MZ", None, "files of type .exe are not accepted; allowed: .csv, .docx"),
    ("Makefile", b"all:", None, "files of type (no extension) are not accepted"),
    ("report.pdf", b"%PDF-1.7", "image/png", "'report.pdf' is sent as image/png but its name says PDF document"),
])
def test_refused_types(name: str, data: bytes, declared: str | None, message: str) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        check(name, data, declared)
    assert message in info.value.detail
    assert info.value.status == 415 and info.value.errors[0].field == "file"


def test_a_character_split_across_chunks_is_still_utf8() -> None:
    assert check("name.txt", "é".encode(), chunk=1).text


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="the file is empty"):
        check("empty.txt", b"")


@pytest.mark.parametrize(("raw", "clean"), [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("C:\\Users\\ana\\report.pdf", "report.pdf"),
    ("bad\x00\x1bname.csv", "badname.csv"),
    ("a" * 300 + ".csv", "a" * 251 + ".csv"),
])
def test_file_names_are_cleaned(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


# --- API ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def small_app(db_url: str, tmp_path: Path) -> Any:
    return create_app(make_settings(db_url, tmp_path, max_upload_bytes=1024))


@pytest.fixture
def small_client(small_app: Any) -> Iterator[TestClient]:
    with TestClient(small_app) as test_client:
        yield test_client


def _admin(db: Session) -> dict[str, str]:
    return bearer(make_token(db, make_user(db)))


def _count_rows(app: Any) -> int:
    with app.state.sessionmaker() as session:
        return session.scalar(select(func.count()).select_from(StoredFile)) or 0


def test_upload_then_read_metadata_and_download(client: TestClient, db: Session, app: Any) -> None:
    headers = _admin(db)
    content = "# Évaluation\nRésultats: 0.91\n".encode()
    response = client.post("/api/v1/files", files={"file": ("résumé notes.md", content, "text/markdown")},
                           headers=headers)
    assert response.status_code == 201, response.text
    meta = response.json()
    sha = hashlib.sha256(content).hexdigest()
    assert (meta["filename"], meta["content_type"], meta["size"], meta["sha256"]) == (
        "résumé notes.md", "text/markdown", len(content), sha)
    assert meta["content_url"] == f"/api/v1/files/{meta['id']}/content"
    assert client.get(f"/api/v1/files/{meta['id']}", headers=headers).json() == meta

    download = client.get(meta["content_url"], headers=headers)
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"] == "text/markdown; charset=utf-8"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"r_sum_ notes.md\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20notes.md")
    assert download.headers["etag"] == f'"{sha}"' and download.headers["x-content-type-options"] == "nosniff"

    with app.state.sessionmaker() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "stored_file"))
        assert event is not None and (event.action, event.entity_id) == ("upload", str(meta["id"]))
    assert client.get("/api/v1/files/999999", headers=headers).status_code == 404
    assert client.get("/api/v1/files/999999/content", headers=headers).status_code == 404


def test_binary_download_keeps_its_type(client: TestClient, db: Session) -> None:
    headers = _admin(db)
    meta = client.post("/api/v1/files", files={"file": ("chart.png", PNG, "image/png")}, headers=headers).json()
    download = client.get(meta["content_url"], headers=headers)
    assert download.content == PNG and download.headers["content-type"] == "image/png"
    assert download.headers["content-length"] == str(len(PNG))


def test_identical_uploads_share_one_stored_copy(client: TestClient, db: Session, app: Any) -> None:
    headers = _admin(db)
    data = b"id,score\n1,0.5\n"
    a = client.post("/api/v1/files", files={"file": ("a.csv", data, "text/csv")}, headers=headers).json()
    b = client.post("/api/v1/files", files={"file": ("b.csv", data, "application/vnd.ms-excel")},
                    headers=headers).json()
    assert a["id"] != b["id"] and a["sha256"] == b["sha256"] and (a["filename"], b["filename"]) == ("a.csv", "b.csv")
    assert len(stored_blobs(app.state.settings.data_dir / "files")) == 1


def test_refused_uploads_store_nothing(client: TestClient, db: Session, app: Any) -> None:
    headers = _admin(db)
    wrong_magic = client.post("/api/v1/files", files={"file": ("scan.pdf", b"not a pdf", "application/pdf")},
                              headers=headers)
    assert wrong_magic.status_code == 415
    body = wrong_magic.json()
    assert body["type"].endswith("/unsupported-media-type") and body["errors"][0]["field"] == "file"
    assert client.post("/api/v1/files", files={"file": ("x.exe", b"MZ", "application/x-msdownload")},
                       headers=headers).status_code == 415
    assert client.post("/api/v1/files", files={"file": ("x.csv", b"\xff\xfe", "text/csv")},
                       headers=headers).status_code == 415
    no_part = client.post("/api/v1/files", files={"other": ("a.csv", b"a\n", "text/csv")}, headers=headers)
    assert no_part.status_code == 422 and no_part.json()["errors"][0]["field"] == "file"
    assert client.post("/api/v1/files", json={"file": "a"}, headers=headers).status_code == 422
    assert _count_rows(app) == 0
    assert stored_blobs(app.state.settings.data_dir / "files") == []


def test_size_limit_is_enforced_exactly(small_client: TestClient, small_app: Any) -> None:
    with small_app.state.sessionmaker() as session:
        headers = _admin(session)
    files_dir = small_app.state.settings.data_dir / "files"
    over = small_client.post("/api/v1/files", files={"file": ("big.txt", b"x" * 1025, "text/plain")},
                             headers=headers)
    assert over.status_code == 413 and over.json()["limit_bytes"] == 1024
    assert "limit of 1 KiB" in over.json()["detail"]
    huge = small_client.post("/api/v1/files", files={"file": ("huge.txt", b"x" * 200_000, "text/plain")},
                             headers=headers)
    assert huge.status_code == 413
    assert _count_rows(small_app) == 0
    assert stored_blobs(files_dir) == [] and list((files_dir / "tmp").iterdir()) == []
    fits = small_client.post("/api/v1/files", files={"file": ("fits.txt", b"x" * 1024, "text/plain")},
                             headers=headers)
    assert fits.status_code == 201 and fits.json()["size"] == 1024


def test_upload_without_content_length_is_refused(client: TestClient, db: Session) -> None:
    def body() -> Iterator[bytes]:
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhi\r\n--b--\r\n"

    response = client.post("/api/v1/files", content=body(), headers={
        **_admin(db), "content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 411


def test_file_permissions(client: TestClient, db: Session) -> None:
    admin = _admin(db)
    meta = client.post("/api/v1/files", files={"file": ("a.txt", b"coe-wide\n", "text/plain")},
                       headers=admin).json()
    viewer = bearer(make_token(db, make_user(db, roles=[("viewer", None)])))
    refused = client.post("/api/v1/files", files={"file": ("b.txt", b"x\n", "text/plain")}, headers=viewer)
    assert refused.status_code == 403 and "file:write" in refused.json()["detail"]
    assert client.get(f"/api/v1/files/{meta['id']}", headers=viewer).status_code == 403
    assert client.get(meta["content_url"], headers=viewer).status_code == 403
    assert client.get(meta["content_url"]).status_code == 401

    scoped = bearer(make_token(db, make_user(db, roles=[("practitioner", make_unit(db))])))
    own = client.post("/api/v1/files", files={"file": ("mine.txt", b"mine\n", "text/plain")}, headers=scoped)
    assert own.status_code == 201
    assert client.get(own.json()["content_url"], headers=scoped).content == b"mine\n"
    assert client.get(f"/api/v1/files/{meta['id']}", headers=scoped).status_code == 404
    auditor = bearer(make_token(db, make_user(db, roles=[("auditor", None)])))
    assert client.get(own.json()["content_url"], headers=auditor).status_code == 200


def test_browser_upload_needs_the_csrf_token(client: TestClient, db: Session, settings: Any) -> None:
    user = make_user(db, password=PASSWORD, settings=settings)
    login(client, user.email)
    token = csrf_from(client.get("/profile").text)
    refused = client.post("/api/v1/files", files={"file": ("a.txt", b"hello\n", "text/plain")})
    assert refused.status_code == 403
    accepted = client.post("/api/v1/files", data={"csrf_token": token},
                           files={"file": ("a.txt", b"hello\n", "text/plain")})
    assert accepted.status_code == 201 and accepted.json()["created_by_id"] == user.id
