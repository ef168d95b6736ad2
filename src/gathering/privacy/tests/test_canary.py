"""Canaries: personal data that must never show in clear, searched for in every byte.

People with canary names, emails, a phone, an answer, a city and a message (Latin and Persian)
go through the real site in a process of its own, as visitors and staff would: the public
registration form and its emailed confirmation link (sent by the worker over SMTP), a
delegation created and joined through its invitation link, two signatures through the sign form
(proof of work solved) and their confirmation links, a message approved for the wall, a
satellite site's application, the first ticket scanned by a gate device through the check-in API,
and an email left unsent. Then the edition is moved into the past (its retention period over)
and ``gathering purge`` runs.

Searched, in plain UTF-8 and any letter case, UTF-16, JSON-escaped (``\\u06a9``, once and
twice) and URL-encoded:

- every file of the site's data folder (its SQLite database, WAL included; keys) and, on
  PostgreSQL, the output of ``pg_dump`` of the site's own database;
- everything the site logged (``LOG_LEVEL=DEBUG`` with ``DEBUG=1``, so every SQL statement is
  logged with its parameters) and the purge command's report.

Policy, and so what is expected:

- before the purge the database holds the canaries only encrypted (names, emails, phone,
  answers, city, message, site contact: ``core.crypto``): 0 occurrences. Nothing may hold them
  in clear: the email's domain is kept in clear for the anti-abuse window, which is why the
  canary addresses carry their marker in the local part only (``@example.org``);
- after the purge they are erased (NULL, not even ciphertext left in the rows), and the figures
  (counts by status, country, category, delegation, tickets, scans, public counts, transparency
  leaves) are exactly what they were: 0 occurrences;
- the logs never name anyone: 0 occurrences.

As a check of the search itself, the canaries are found in what the site returned about its
people before the purge (decrypted, printed as JSON with its ``\\u`` escapes).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import unicodedata
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gathering.core.testing.server import BIN, migrated_sqlite, own_postgres_database, server_env
from gathering.privacy.tests import scripts

DATABASE_URL = os.environ.get("DATABASE_URL", "")


def variants(text: str) -> set[bytes]:
    """The byte forms ``text`` may take, lower-cased (search in a lower-cased haystack)."""
    forms: set[bytes] = set()
    for form in {unicodedata.normalize(kind, text.lower()) for kind in ("NFC", "NFD", "NFKC")}:
        escaped = json.dumps(form)[1:-1]
        forms |= {
            form.encode(),
            form.encode("utf-16-le"),
            form.encode("utf-16-be"),
            escaped.encode(),
            escaped.replace("\\", "\\\\").encode(),
            urllib.parse.quote(form).lower().encode(),
            urllib.parse.quote_plus(form).lower().encode(),
        }
    return forms


def occurrences(haystack: bytes) -> dict[str, int]:
    """How often each canary shows in ``haystack``, in any of its forms and letter cases."""
    lowered = haystack.lower()
    found = {}
    for canary in scripts.CANARIES:
        count = sum(lowered.count(form) for form in variants(canary))
        if count:
            found[canary] = count
    return found


@dataclass
class Site:
    data_dir: Path
    database_url: str
    email_port: int
    logs: list[bytes] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        extra = {
            "LOG_LEVEL": "DEBUG",
            "DEBUG": "1",
            "ALLOWED_HOSTS": "testserver",
            "SITE_URL": "http://testserver",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.email_port),
        }
        if self.database_url:
            extra["DATABASE_URL"] = self.database_url
        return server_env(self.data_dir, **extra)

    def run(self, *command: str) -> bytes:
        """Run ``command`` with the site's environment: its output; what it logged is kept."""
        result = subprocess.run(
            list(command), env=self.env, capture_output=True, timeout=600, check=False
        )
        self.logs.append(result.stderr)
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-5000:]
        return result.stdout

    def step(self, name: str) -> tuple[dict, bytes]:
        output = self.run(str(BIN / "python"), "-m", "gathering.privacy.tests.scripts", name)
        return json.loads(output.strip().splitlines()[-1]), output

    def database_bytes(self) -> dict[str, bytes]:
        """Every file of the data folder and, on PostgreSQL, the dump of the database."""
        found = {
            str(path.relative_to(self.data_dir)): path.read_bytes()
            for path in sorted(self.data_dir.rglob("*"))
            if path.is_file()
        }
        if self.database_url:
            dump = subprocess.run(
                [PG_DUMP, "--no-owner", self.database_url.replace("postgres://", "postgresql://")],
                capture_output=True,
                timeout=300,
                check=True,
            )
            found["pg_dump"] = dump.stdout
        return found


PG_DUMP = shutil.which("pg_dump") or ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Run:
    seeded: dict
    seeded_output: bytes
    before: dict[str, bytes]
    aged: dict
    report: str
    after_state: dict
    after: dict[str, bytes]
    logs: bytes
    files_checked: list[str]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Iterator[Run]:
    if DATABASE_URL and not PG_DUMP:
        pytest.skip("pg_dump is not installed: the PostgreSQL database cannot be searched")
    root = tmp_path_factory.mktemp("canary")
    with _database() as url:
        site = Site(root / "site", url, _free_port())
        if not url:
            migrated_sqlite(site.data_dir)
        seeded, seeded_output = site.step("canary_seed")
        before = site.database_bytes()
        aged, _output = site.step("canary_age")
        report = site.run(str(BIN / "gathering"), "purge").decode()
        after_state, _output = site.step("canary_state")
        after = site.database_bytes()
        yield Run(
            seeded=seeded,
            seeded_output=seeded_output,
            before=before,
            aged=aged,
            report=report,
            after_state=after_state,
            after=after,
            logs=b"\n".join(site.logs) + report.encode(),
            files_checked=sorted(after),
        )


def _database() -> contextlib.AbstractContextManager[str]:
    if DATABASE_URL:
        return own_postgres_database(DATABASE_URL, prefix="test_priv_canary", migrated=True)
    return contextlib.nullcontext("")


def test_the_search_finds_the_canaries_where_they_are(run):
    # What the site returned about its people (decrypted), printed as JSON with \\u escapes.
    found = occurrences(run.seeded_output)
    for canary in [
        scripts.CANARY_NAME,
        scripts.CANARY_NAME_FA,
        scripts.CANARY_LEADER,
        scripts.CANARY_MEMBER,
        scripts.CANARY_SIGNER,
        scripts.CANARY_CITY,
        scripts.CANARY_MESSAGE,
        scripts.CANARY_ANSWER,
        scripts.CANARY_CONTACT,
        scripts.canary_email(1),
        scripts.canary_email(7),
    ]:
        assert found.get(canary), canary
    assert "\\u0642" in run.seeded_output.decode()  # the Persian name, escaped
    assert occurrences("CANARY-ZXQWV-3@EXAMPLE.ORG".encode("utf-16-be"))
    assert run.seeded["emails"] >= 10


def test_before_the_purge_the_database_holds_them_only_encrypted(run):
    searched = "pg_dump" if DATABASE_URL else "gathering.sqlite3"
    assert len(run.before[searched]) > 10_000
    hits = {name: occurrences(data) for name, data in run.before.items()}
    assert {name: found for name, found in hits.items() if found} == {}


def test_the_purge_erases_them_and_keeps_every_figure(run):
    assert "Editions past their retention period: 2030." in run.report
    assert "       4  registrations" in run.report
    assert "       2  signatures" in run.report
    assert "       1  satellite site contacts" in run.report
    assert "       1  unsent emails" in run.report
    assert run.after_state["figures"] == run.seeded["figures"]
    assert run.seeded["figures"]["registrations"] == 4
    assert run.seeded["figures"]["scans"] == [[run.seeded["figures"]["tickets"][0][0], "valid"]]
    left = run.after_state["personal_data"]
    assert left["registrations"] == [[None] * 6] * 4
    assert all(row[:4] == [None] * 4 for row in left["signatures"])
    assert left["sites"] == [[None, None, None]]
    assert run.after_state["unsent_emails"] == 0


def ciphertexts(value) -> set[bytes]:
    """The encrypted values (``pii1:…``) in ``value``: long enough never to match by chance."""
    if isinstance(value, str):
        return {value.encode()} if value.startswith("pii1:") else set()
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(ciphertexts(item) for item in value)) if value else set()
    return set()


def test_after_the_purge_no_byte_of_the_database_shows_them(run):
    hits = {name: occurrences(data) for name, data in run.after.items()}
    assert {name: found for name, found in hits.items() if found} == {}
    assert any(name.startswith("keys/") for name in run.files_checked)


def test_after_the_purge_not_even_their_ciphertexts_are_left(run):
    # Encrypted, they could still be read with the keys beside them: the purge must leave
    # none, not in the rows, nor (SQLite) in the file's free space or write-ahead log.
    encrypted = ciphertexts(run.seeded["stored"])
    assert len(encrypted) >= 20
    before = b"".join(run.before.values())
    assert all(value in before for value in encrypted)
    after = b"".join(run.after.values())
    assert [value for value in encrypted if value in after] == []


def test_the_logs_never_show_them(run):
    assert b"privacy purge edition=2030" in run.logs
    assert b"SELECT" in run.logs  # SQL was logged, with its parameters
    assert occurrences(run.logs) == {}
