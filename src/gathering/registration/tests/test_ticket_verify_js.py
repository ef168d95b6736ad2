"""The scanner's offline verifier (static/registration/ticket-verify.js) in a real Chromium.

Codes made by the Python ``sign_ticket`` and a bundle made by ``encode_gate_bundle`` must get
the same verdicts in the browser (WebCrypto Ed25519) as in ``verify_ticket``. The module is
served from the app's static folder by a tiny HTTP server on 127.0.0.1 (WebCrypto needs a
secure context, which http://127.0.0.1 is) and loaded with a dynamic ``import()``.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import http.server
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gathering.core.testing.browser import CHROMIUM, CHROMIUM_ARGS
from gathering.registration.keys import SigningKey
from gathering.registration.revocation import encode_gate_bundle
from gathering.registration.ticket_codes import (
    PREFIX,
    CategoryCode,
    TicketClaims,
    decode_ticket,
    sign_ticket,
    verify_ticket,
)

STATIC = Path(__file__).resolve().parent.parent / "static"
MODULE = "/registration/ticket-verify.js"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: the browser tests need it"
    ),
]

KEY = SigningKey.generate(1)
OLD_KEY = SigningKey.generate(2)
EDITION = 2026
OPENS = dt.datetime(2026, 6, 27, 6, 0, tzinfo=dt.UTC)
CLOSES = dt.datetime(2026, 6, 28, 22, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 6, 27, 10, 42, tzinfo=dt.UTC)
NOW_MS = int(NOW.timestamp() * 1000)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/":
            body = b"<!doctype html><title>gate</title><p>gate"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture(scope="module")
def static_server() -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(STATIC))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def page(static_server: str) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(static_server + "/")
            yield page
        finally:
            browser.close()


def fixed_bytes(size: int, *, seed: int) -> bytes:
    """Random-looking bytes, the same on every run."""
    return hashlib.shake_256(seed.to_bytes(4, "big")).digest(size)


_ids = iter(fixed_bytes(8 * 100, seed=2026)[i : i + 8] for i in range(0, 800, 8))


def claims(**overrides: object) -> TicketClaims:
    values: dict[str, object] = {
        "ticket_id": next(_ids),
        "edition_year": EDITION,
        "category": CategoryCode.VOLUNTEER,
        "valid_from": OPENS,
        "valid_until": CLOSES,
    }
    values.update(overrides)
    return TicketClaims(**values)  # type: ignore[arg-type]


REVOKED_ID = bytes.fromhex("00000000000000ff")  # small: exercises the hex padding in JS
OTHER_REVOKED = [fixed_bytes(16_000, seed=3)[i : i + 8] for i in range(0, 16_000, 8)]
BUNDLE = encode_gate_bundle(
    edition_year=EDITION,
    public_keys={1: KEY.public_bytes, 2: OLD_KEY.public_bytes},
    revoked=[REVOKED_ID, *OTHER_REVOKED],
    generated_at=NOW,
)


def python_status(code: str) -> str:
    return verify_ticket(
        code,
        public_keys={1: KEY.public_bytes, 2: OLD_KEY.public_bytes},
        edition_year=EDITION,
        now=NOW,
        revoked=frozenset([REVOKED_ID, *OTHER_REVOKED]),
    ).status.value


VERIFY_ALL = """async ({module, bundle, codes, now}) => {
  const m = await import(module);
  const gate = m.decodeGateBundle(bundle);
  const out = [];
  for (const code of codes) {
    const v = await m.verifyTicket(code, gate, now);
    out.push([v.status, v.ticketId, v.category, v.accepted]);
  }
  return out;
}"""


def js_verdicts(page, codes: list[object]) -> list[list[object]]:  # type: ignore[no-untyped-def]
    return page.evaluate(  # type: ignore[no-any-return]
        VERIFY_ALL, {"module": MODULE, "bundle": BUNDLE.decode(), "codes": codes, "now": NOW_MS}
    )


def test_codes_made_in_python_get_the_same_verdicts_in_the_browser(page) -> None:  # type: ignore[no-untyped-def]
    valid = claims(ticket_id=bytes.fromhex("0123456789abcdef"))
    genuine = sign_ticket(valid, key=KEY)
    raw = bytearray(base64.b32decode(genuine.removeprefix(PREFIX) + "======"))
    raw[13] = int(CategoryCode.STAFF)  # promoted to staff, the signature kept
    cases = {
        "valid": genuine,
        "valid, older key": sign_ticket(claims(), key=OLD_KEY),
        "forged": PREFIX + base64.b32encode(bytes(raw)).decode().rstrip("="),
        "forged, random key": sign_ticket(valid, key=SigningKey.generate(1)),
        "unknown_key": sign_ticket(valid, key=SigningKey.generate(9)),
        "revoked": sign_ticket(claims(ticket_id=REVOKED_ID), key=KEY),
        "wrong_edition": sign_ticket(claims(edition_year=2025), key=KEY),
        "not_yet_valid": sign_ticket(claims(valid_from=NOW + dt.timedelta(seconds=1)), key=KEY),
        "expired": sign_ticket(claims(valid_until=NOW), key=KEY),
        "malformed, empty": "",
        "malformed, truncated": genuine[:-1],
        "malformed, lowercase": genuine.lower(),
        "malformed, script": "<script>alert(1)</script>",
        "malformed, rtl override": "\u202e" + genuine[1:],
        "malformed, long": "GT1:" + "A" * 100_000,
    }
    expected = {name: name.split(",")[0] for name in cases}

    verdicts = dict(zip(cases, js_verdicts(page, list(cases.values())), strict=True))

    for name, code in cases.items():
        status, ticket_id, category, accepted = verdicts[name]
        assert status == expected[name] == python_status(code), name
        assert accepted == (status == "valid"), name
        if status in {"malformed", "unknown_key", "forged"}:
            assert (ticket_id, category) == (None, None), name
        else:
            claims_in_code = decode_ticket(code)[0]
            assert ticket_id == claims_in_code.ticket_id.hex(), name
            assert category == int(claims_in_code.category), name


def test_non_text_input_is_malformed_in_the_browser(page) -> None:  # type: ignore[no-untyped-def]
    statuses = page.evaluate(
        """async ({module, bundle}) => {
          const m = await import(module);
          const gate = m.decodeGateBundle(bundle);
          const inputs = [null, undefined, 42, {}, [], new Uint8Array(86)];
          return Promise.all(inputs.map(async (i) => (await m.verifyTicket(i, gate)).status));
        }""",
        {"module": MODULE, "bundle": BUNDLE.decode()},
    )

    assert statuses == ["malformed"] * 6


def test_mutated_codes_get_the_same_verdict_in_python_and_javascript(page) -> None:  # type: ignore[no-untyped-def]
    generator = random.Random(1979)  # noqa: S311  (a fixed seed: the same cases on every run)
    genuine = sign_ticket(claims(), key=KEY)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    mutated: list[str] = []
    raw = base64.b32decode(genuine.removeprefix(PREFIX) + "======")
    for _ in range(150):  # bit flips in the signed bytes or the signature
        flipped = bytearray(raw)
        position = generator.randrange(len(raw) * 8)
        flipped[position // 8] ^= 1 << (position % 8)
        mutated.append(PREFIX + base64.b32encode(bytes(flipped)).decode().rstrip("="))
    for _ in range(100):  # characters re-spelled, the last one (padding bits) most of all
        chars = list(genuine)
        index = generator.choice([len(genuine) - 1, generator.randrange(4, len(genuine))])
        chars[index] = generator.choice(alphabet)
        mutated.append("".join(chars))
    for _ in range(50):  # truncated or extended
        cut = generator.randrange(len(genuine))
        mutated.append(genuine[:cut] if generator.random() < 0.5 else genuine + alphabet[cut % 32])
    mutated = [code for code in mutated if code != genuine]

    statuses = [verdict[0] for verdict in js_verdicts(page, mutated)]

    assert statuses == [python_status(code) for code in mutated]
    assert "valid" not in statuses
    assert {"malformed", "forged"} <= set(statuses)


def test_hostile_bundles_are_refused_with_gate_bundle_error(page) -> None:  # type: ignore[no-untyped-def]
    errors = page.evaluate(
        """async ({module, bundles}) => {
          const m = await import(module);
          return bundles.map((b) => {
            try { m.decodeGateBundle(b); return "accepted"; }
            catch (e) { return e.name; }
          });
        }""",
        {
            "module": MODULE,
            "bundles": [
                "",
                "[]",
                "<script>",
                BUNDLE.decode().replace('"version":1', '"version":2'),
                BUNDLE.decode().replace('"count":2001', '"count":2002'),
                BUNDLE.decode().replace('"count":2001', '"count":2000'),
                BUNDLE.decode().replace('"keys":{"1"', '"keys":{"0"'),
            ],
        },
    )

    assert errors == ["GateBundleError"] * 7


def test_offline_verify_time_in_the_browser_is_measured(page) -> None:  # type: ignore[no-untyped-def]
    """Prints the browser's verify time (target: under 5 ms); asserts only correctness."""
    code = sign_ticket(claims(), key=KEY)
    ids = fixed_bytes(800_000, seed=5)
    big = encode_gate_bundle(
        edition_year=EDITION,
        public_keys={1: KEY.public_bytes},
        revoked=[ids[i : i + 8] for i in range(0, 800_000, 8)],
        generated_at=NOW,
    )
    result = page.evaluate(
        """async ({module, bundle, code, now, rounds}) => {
          const m = await import(module);
          let started = performance.now();
          const gate = m.decodeGateBundle(bundle);
          const decodeMs = performance.now() - started;
          const first = performance.now();
          const warm = await m.verifyTicket(code, gate, now);  // imports the key once
          const firstMs = performance.now() - first;
          const times = [];
          let last = warm;
          started = performance.now();
          for (let i = 0; i < rounds; i++) {
            const t = performance.now();
            last = await m.verifyTicket(code, gate, now);
            times.push(performance.now() - t);
          }
          const totalMs = performance.now() - started;
          times.sort((a, b) => a - b);
          return {
            decodeMs, firstMs, totalMs, status: last.status, revoked: gate.revoked.size,
            p50: times[Math.floor(rounds * 0.5)], p99: times[Math.floor(rounds * 0.99)],
          };
        }""",
        {"module": MODULE, "bundle": big.decode(), "code": code, "now": NOW_MS, "rounds": 2000},
    )

    assert result["status"] == "valid"
    assert result["revoked"] == 100_000
    print(
        f"\nbrowser: bundle of {len(big):,} bytes (100,000 revoked) decoded in "
        f"{result['decodeMs']:.0f} ms; first verify {result['firstMs']:.2f} ms; "
        f"then {result['totalMs'] / 2000 * 1000:.0f} us a verify on average over 2,000 "
        f"(p50 {result['p50'] * 1000:.0f} us, p99 {result['p99'] * 1000:.0f} us; "
        "performance.now() is coarsened to 100 us here)"
    )
