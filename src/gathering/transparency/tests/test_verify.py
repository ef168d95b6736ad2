"""``gathering verify`` and ``python -m gathering.transparency.verify``, end to end: files
written from the API's answers, a server fetched with --url, tampered inputs refused."""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from gathering.transparency import merkle, services
from gathering.transparency.verify import main

SOURCE = Path(merkle.__file__).resolve().parents[2]
BASE = "/api/transparency"


def make_log(slug: str, count: int = 9) -> list[dict]:
    log = services.get_or_create_log(slug=slug)
    receipts = []
    for i in range(count):
        fields = {"campaign": slug, "country": "FR", "id": f"p{i}", "salt": secrets.token_hex(16)}
        data = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
        services.queue_entry(log=log, data=data)
        # A signature's receipt as voices/receipts.py makes it.
        receipts.append({"log": slug, "leaf_index": i, "leaf": fields, "leaf_data_hex": data.hex()})
    services.integrate(log=log, limit=4)
    services.integrate(log=log)
    return receipts


def save(folder: Path, name: str, document: object) -> str:
    path = folder / name
    path.write_text(json.dumps(document))
    return str(path)


@pytest.fixture
def files(db, tmp_path: Path, client: Client) -> dict[str, str]:
    receipts = make_log("demo")
    api = lambda path: client.get(BASE + path).json()  # noqa: E731
    heads = api("/logs/demo/tree-heads")["tree_heads"]
    return {
        "receipt": save(tmp_path, "receipt.json", receipts[5]),
        "other_receipt": save(tmp_path, "other.json", receipts[6]),
        "head": save(tmp_path, "sth.json", heads[-1]),
        "old_head": save(tmp_path, "sth-old.json", heads[1]),
        "proof": save(
            tmp_path, "proof.json", api("/logs/demo/proof/inclusion?index=5&tree_size=9")
        ),
        "consistency": save(
            tmp_path, "consistency.json", api("/logs/demo/proof/consistency?first=4&second=9")
        ),
        "keys": save(tmp_path, "keys.json", api("/keys")),
        "folder": str(tmp_path),
    }


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_receipt_holds(files) -> None:
    status, out, err = run(
        "receipt", "--receipt", files["receipt"], "--tree-head", files["head"],
        "--proof", files["proof"], "--key", files["keys"],
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert out.startswith("OK: entry 5 of log demo is in its tree of 9 entries")


def test_another_receipt_with_this_proof_fails(files) -> None:
    status, out, err = run(
        "receipt", "--receipt", files["other_receipt"], "--tree-head", files["head"],
        "--proof", files["proof"], "--key", files["keys"],
    )  # fmt: skip
    assert status == 1 and out == ""
    assert err.startswith("FAILED: the proof is for leaf 5")


def test_a_changed_receipt_fails(files) -> None:
    receipt = json.loads(Path(files["receipt"]).read_text())
    receipt["leaf"]["country"] = "DE"
    receipt["leaf_data_hex"] = (
        json.dumps(receipt["leaf"], sort_keys=True, separators=(",", ":")).encode().hex()
    )
    forged = save(Path(files["folder"]), "forged.json", receipt)
    status, _out, err = run(
        "receipt", "--receipt", forged, "--tree-head", files["head"],
        "--proof", files["proof"], "--key", files["keys"],
    )  # fmt: skip
    assert status == 1 and "another root" in err


def test_a_tree_head_with_a_forged_signature_fails(files) -> None:
    head = json.loads(Path(files["head"]).read_text())
    head["size"] = 10
    forged = save(Path(files["folder"]), "forged-sth.json", head)
    status, _out, err = run(
        "receipt", "--receipt", files["receipt"], "--tree-head", forged,
        "--proof", files["proof"], "--key", files["keys"],
    )  # fmt: skip
    assert status == 1 and "signature of the tree head of size 10 does not verify" in err


def test_consistency_holds_and_swapped_heads_fail(files) -> None:
    status, out, _err = run(
        "consistency", "--old", files["old_head"], "--new", files["head"],
        "--proof", files["consistency"], "--key", files["keys"],
    )  # fmt: skip
    assert status == 0 and "extends its tree of 4 entries" in out
    status, _out, err = run(
        "consistency", "--old", files["head"], "--new", files["old_head"],
        "--proof", files["consistency"], "--key", files["keys"],
    )  # fmt: skip
    assert status == 1 and "larger than the new one" in err


@pytest.mark.parametrize("content", ["", "{", "[]", '{"keys": 5}', "\u202e{}", "null"])
def test_malformed_files_fail_with_a_message(files, content: str) -> None:
    bad = Path(files["folder"]) / "bad.json"
    bad.write_text(content)
    for option in ("--receipt", "--tree-head", "--proof", "--key"):
        chosen = {"--receipt": files["receipt"], "--tree-head": files["head"],
                  "--proof": files["proof"], "--key": files["keys"], option: str(bad)}  # fmt: skip
        status, _out, err = run("receipt", *[item for pair in chosen.items() for item in pair])
        assert status == 1 and err.startswith("FAILED: "), (option, err)


def test_missing_inputs_without_a_server_are_explained(files) -> None:
    status, _out, err = run("receipt", "--receipt", files["receipt"])
    assert status == 1 and "--tree-head, or a server with --url" in err
    status, _out, err = run(
        "receipt", "--receipt", "/nonexistent/receipt.json", "--key", files["keys"]
    )
    assert status == 1 and "cannot read" in err


def test_management_command(files, capsys) -> None:
    call_command(
        "verify", "receipt", "--receipt", files["receipt"], "--tree-head", files["head"],
        "--proof", files["proof"], "--key", files["keys"],
    )  # fmt: skip
    assert "OK: entry 5" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command(
            "verify", "receipt", "--receipt", files["other_receipt"], "--tree-head", files["head"],
            "--proof", files["proof"], "--key", files["keys"],
        )  # fmt: skip


def test_gathering_verify_and_the_pure_module_exit_codes(files) -> None:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "gathering.settings_test"}
    args = ["--tree-head", files["head"], "--proof", files["proof"], "--key", files["keys"]]
    good = ["receipt", "--receipt", files["receipt"], *args]
    bad = ["receipt", "--receipt", files["other_receipt"], *args]
    gathering = [sys.executable, "-m", "gathering.cli", "verify"]
    assert (
        subprocess.run(
            [*gathering, *good], env=environment, check=False, capture_output=True
        ).returncode
        == 0
    )
    failed = subprocess.run(
        [*gathering, *bad], env=environment, check=False, capture_output=True, text=True
    )
    assert failed.returncode == 1 and "FAILED" in failed.stderr
    # Without Django: importing it would fail.
    blocked = "import sys, runpy; sys.modules['django'] = None; sys.argv[0] = 'verify'; "
    pure = [
        sys.executable,
        "-c",
        blocked + "runpy.run_module('gathering.transparency.verify', run_name='__main__')",
    ]
    bare = {"PYTHONPATH": str(SOURCE), "PATH": ""}
    assert (
        subprocess.run([*pure, *good], env=bare, check=False, capture_output=True).returncode == 0
    )
    result = subprocess.run([*pure, *bad], env=bare, check=False, capture_output=True, text=True)
    assert result.returncode == 1 and "FAILED" in result.stderr


def test_verify_against_a_running_server(transactional_db, live_server, tmp_path: Path) -> None:
    receipts = make_log("live", count=6)
    receipt = save(tmp_path, "receipt.json", receipts[2])
    status, out, err = run("receipt", "--receipt", receipt, "--url", live_server.url)
    assert (status, err) == (0, ""), err
    assert "entry 2 of log live is in its tree of 6 entries" in out
    old = Client().get(BASE + "/logs/live/tree-heads").json()["tree_heads"][1]
    status, out, err = run(
        "consistency", "--old", save(tmp_path, "old.json", old), "--url", live_server.url
    )
    assert status == 0, err
    missing = save(tmp_path, "missing.json", {**receipts[2], "log": "unknown"})
    status, _out, err = run("receipt", "--receipt", missing, "--url", live_server.url)
    assert status == 1 and "HTTP 404" in err
    status, _out, err = run("receipt", "--receipt", receipt, "--url", "http://127.0.0.1:9")
    assert status == 1 and err.startswith("FAILED: http://127.0.0.1:9")


def test_only_http_addresses_are_fetched(files) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("receipt", "--receipt", files["receipt"], "--url", "file:///etc/passwd")
    assert exit_info.value.code == 2


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
