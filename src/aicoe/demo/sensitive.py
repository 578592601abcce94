"""Seed sensitive-data scans: small generated files for three of Meridian Trust's datasets, scanned at once.

The files are written under ``data_dir/datasets/demo`` (inside the directories scans may read), with fake but
checksum-valid identifiers from seeded generators (the same bytes on every run), and registered as the datasets'
locations. Each dataset without a scan is then scanned synchronously, so a new user finds:

* the contact-centre knowledge base, declared *internal* without personal data, holding customers' e-mail
  addresses and phone numbers pasted into articles and a planted AWS key: suggested *restricted*, and violations
  of the credentials, legal-basis and classification rules on the assistants that retrieve from it;
* motor claims with NHS numbers in injury notes (special-category data), IBANs, e-mail addresses, phone numbers
  and dates of birth: suggested *restricted* while classified *confidential*;
* call volumes with nothing sensitive: suggested *internal*.

Idempotent: files are rewritten only when missing, locations set only when different, and a dataset already
scanned is not scanned again.
"""

from __future__ import annotations

import csv
import random
import string
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.inventory import datasets
from aicoe.inventory.schemas_assets import DatasetUpdate
from aicoe.models.inventory import Dataset
from aicoe.models.sensitive import SensitiveScan
from aicoe.sensitive import jobs, service
from aicoe.sensitive.schemas import ScanCreate

if TYPE_CHECKING:
    from aicoe.demo import DemoResult

KB, CLAIMS, VOLUMES = "Contact-centre knowledge base", "Motor claims history", "Contact-centre call volumes"
LOCATIONS = {KB: ("demo/contact-centre-kb", "csv"), CLAIMS: ("demo/motor-claims", "parquet"),
             VOLUMES: ("demo/call-volumes", "csv")}
FIRST = ("Olivia", "Amelia", "Isla", "Ava", "Noah", "Oliver", "George", "Arthur", "Leo", "Harry", "Freya", "Mia",
         "Jack", "Sophie", "Ethan", "Grace", "Ruby", "Oscar", "Alfie", "Lily")
LAST = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright",
        "Robinson", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Clarke")
TOPICS = ("Card replacement", "Direct debit disputes", "Address changes", "Lost PIN", "Overdraft fees",
          "Travel notifications", "Chargebacks", "Mortgage payment holidays", "Account closure", "Statement copies")
QUEUES = ("cards", "lending", "general")
KB_ARTICLES, CLAIM_ROWS, VOLUME_DAYS = 60, 400, 365
SECRET_ARTICLE = 17  # the article with the planted key


# --- fake identifiers (valid checksums, reserved ranges) -------------------------------------------------------

def nhs_number(rng: random.Random) -> str:
    """A ten-digit NHS number whose last digit is the modulus-11 check digit."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        if check != 10:
            text = "".join(map(str, digits)) + str(0 if check == 11 else check)
            return f"{text[:3]} {text[3:6]} {text[6:]}"


def gb_iban(rng: random.Random) -> str:
    """A GB IBAN with a correct mod-97 check, printed in groups of four."""
    bban = "MERI" + "".join(str(rng.randrange(10)) for _ in range(14))
    numeric = "".join(str(int(c, 36)) for c in bban + "GB00")
    iban = f"GB{98 - int(numeric) % 97:02d}{bban}"
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))


def phone(rng: random.Random) -> str:
    """A London number in Ofcom's range reserved for drama (020 7946 0000-0999)."""
    return f"+44 20 7946 0{rng.randrange(1000):03d}"


def email(first: str, last: str, n: int) -> str:
    return f"{first}.{last}{n}@example.com".lower()


def aws_key_id(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))


def aws_secret(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))


# --- the files -------------------------------------------------------------------------------------------------

def write_kb(path: Path) -> None:
    rng = random.Random(7001)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["article_id", "title", "body", "last_edited"])
        for n in range(1, KB_ARTICLES + 1):
            topic = TOPICS[n % len(TOPICS)]
            body = f"How to handle {topic.lower()}: check the customer's identity, then follow the checklist."
            if n % 6 == 0:
                first, last = rng.choice(FIRST), rng.choice(LAST)
                body += (f" Example escalation: the customer wrote from {email(first, last, n)} and asked to be "
                         f"called back on {phone(rng)}.")
            if n == SECRET_ARTICLE:
                body += (f" Temporary workaround while the statements service is down: aws_access_key_id = "
                         f"{aws_key_id(rng)} and aws_secret_access_key = {aws_secret(rng)}")
            writer.writerow([f"KB-{n:04d}", f"{topic} ({n})", body, (date(2026, 1, 5) + timedelta(n)).isoformat()])


def write_claims(path: Path) -> None:
    rng = random.Random(7002)
    rows: dict[str, list[object]] = {k: [] for k in ("claim_id", "policy_holder", "email", "phone", "date_of_birth",
                                                     "payout_iban", "claim_type", "amount_gbp", "notes")}
    for n in range(1, CLAIM_ROWS + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        injury = n % 5 == 0
        rows["claim_id"].append(f"MC-{2026_00000 + n}")
        rows["policy_holder"].append(f"{first} {last}")
        rows["email"].append(email(first, last, n))
        rows["phone"].append(phone(rng))
        rows["date_of_birth"].append((date(1950, 1, 1) + timedelta(rng.randrange(18_000))).isoformat())
        rows["payout_iban"].append(gb_iban(rng))
        rows["claim_type"].append("injury" if injury else rng.choice(("collision", "theft", "glass", "fire")))
        rows["amount_gbp"].append(round(rng.uniform(150, 25_000), 2))
        rows["notes"].append(f"Whiplash; hospital letter gives NHS number {nhs_number(rng)}." if injury
                             else "Repair estimate received from the approved garage.")
    pq.write_table(pa.table(rows), path, row_group_size=100)


def write_volumes(path: Path) -> None:
    rng = random.Random(7003)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["day", "queue", "calls_offered", "calls_answered", "avg_handle_seconds"])
        for n in range(VOLUME_DAYS):
            for queue in QUEUES:
                offered = rng.randrange(800, 2400)
                writer.writerow([(date(2025, 1, 1) + timedelta(n)).isoformat(), queue, offered,
                                 offered - rng.randrange(0, 120), rng.randrange(180, 540)])


FILES = {KB: ("articles.csv", write_kb), CLAIMS: ("claims.parquet", write_claims),
         VOLUMES: ("volumes.csv", write_volumes)}


def write_files(settings: Settings) -> None:
    """Write each demo dataset's file into its directory, unless it is there already."""
    for name, (location, _fmt) in LOCATIONS.items():
        directory = settings.data_dir / service.DATASETS_DIR / location
        directory.mkdir(parents=True, exist_ok=True)
        filename, write = FILES[name]
        if not (directory / filename).exists():
            write(directory / filename)


# --- the seeder ------------------------------------------------------------------------------------------------

def seed_sensitive(session: Session, settings: Settings, result: DemoResult) -> None:
    found = {d.name: d for d in session.scalars(select(Dataset).where(Dataset.name.in_(sorted(LOCATIONS))))}
    if not found:
        return
    write_files(settings)
    for name, (location, fmt) in LOCATIONS.items():
        dataset = found.get(name)
        if dataset is None:
            continue
        uri = (settings.data_dir / service.DATASETS_DIR / location).resolve().as_uri()
        if (dataset.location_uri, dataset.format) != (uri, fmt):
            datasets.update_dataset(session, None, dataset.id, DatasetUpdate(location_uri=uri, format=fmt))
        if session.scalar(select(SensitiveScan.id).where(SensitiveScan.dataset_id == dataset.id).limit(1)) is None:
            scan = service.new_scan(session, None, settings, dataset.id, ScanCreate())
            jobs.run_now(session, settings, scan.id)
            result.created["sensitive-data scans"] = result.created.get("sensitive-data scans", 0) + 1
