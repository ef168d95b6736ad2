"""Benchmark: one offline ticket verify in Python (decode + Ed25519 verify + revocation lookup).

The gate decides from a bundle of 100,000 revoked ids (the worst case for 100,000 tickets);
each verify is timed on its own, and p50/p99 are taken over 10,000 verifies.
Target (issue 3): an offline verify under 5 ms.

    .venv/bin/python bench/ticket_verify.py [--rounds 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")

from gathering.registration.keys import SigningKey
from gathering.registration.revocation import decode_gate_bundle, encode_gate_bundle
from gathering.registration.ticket_codes import (
    CategoryCode,
    TicketClaims,
    VerdictStatus,
    decode_ticket,
    sign_ticket,
    verify_ticket,
)

TARGET_MS = 5.0


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def timed(function, rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Microseconds per call, one measurement per call."""
    times: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        started = clock()
        function()
        times.append((clock() - started) / 1000)
    times.sort()
    return times


def report(label: str, times: list[float]) -> None:
    print(
        f"{label:<44} p50 {percentile(times, 0.5):7.1f} us   p99 {percentile(times, 0.99):7.1f} us"
        f"   mean {statistics.fmean(times):7.1f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--revoked", type=int, default=100_000)
    options = parser.parse_args()

    key = SigningKey.generate(1)
    now = dt.datetime(2026, 6, 27, 10, 42, tzinfo=dt.UTC)
    started = time.perf_counter()
    bundle_bytes = encode_gate_bundle(
        edition_year=2026,
        public_keys={1: key.public_bytes},
        revoked=[secrets.token_bytes(8) for _ in range(options.revoked)],
        generated_at=now,
    )
    encoded_in = time.perf_counter() - started
    started = time.perf_counter()
    bundle = decode_gate_bundle(bundle_bytes)
    decoded_in = time.perf_counter() - started
    print(
        f"gate bundle: {options.revoked:,} revoked ids, {len(bundle_bytes):,} bytes; "
        f"encoded in {encoded_in * 1000:.0f} ms, decoded in {decoded_in * 1000:.0f} ms"
    )

    codes = [
        sign_ticket(
            TicketClaims(
                ticket_id=secrets.token_bytes(8),
                edition_year=2026,
                category=CategoryCode.ATTENDEE,
                valid_from=now - dt.timedelta(hours=4),
                valid_until=now + dt.timedelta(hours=36),
            ),
            key=key,
        )
        for _ in range(100)
    ]
    print(f"ticket code: {len(codes[0])} characters, e.g. {codes[0]}")
    revoked_code = sign_ticket(
        TicketClaims(
            ticket_id=next(iter(bundle.revoked)),
            edition_year=2026,
            category=CategoryCode.PRESS,
            valid_from=now - dt.timedelta(hours=4),
            valid_until=now + dt.timedelta(hours=36),
        ),
        key=key,
    )

    index = 0

    def verify_one(code: str | None = None) -> None:
        nonlocal index
        index += 1
        verdict = verify_ticket(
            code or codes[index % len(codes)],
            public_keys=bundle.public_keys,
            edition_year=bundle.edition_year,
            now=now,
            revoked=bundle.revoked,
        )
        assert verdict.status is VerdictStatus.VALID or code is not None  # noqa: S101

    verify_one()  # warm the public-key cache
    public = key.private_key.public_key()
    _, _, signed, signature = decode_ticket(codes[0])

    print(f"\n{options.rounds:,} calls each, times per call:")
    report("verify_ticket (decode + Ed25519 + lookup)", timed(verify_one, options.rounds))
    report(
        "verify_ticket of a revoked ticket", timed(lambda: verify_one(revoked_code), options.rounds)
    )
    report("  decode_ticket alone", timed(lambda: decode_ticket(codes[0]), options.rounds))
    report(
        "  Ed25519 verify alone", timed(lambda: public.verify(signature, signed), options.rounds)
    )
    report(
        "  sign_ticket",
        timed(lambda: sign_ticket(decode_ticket(codes[0])[0], key=key), options.rounds // 10),
    )
    times = timed(verify_one, options.rounds)
    verdict = "meets" if percentile(times, 0.99) / 1000 < TARGET_MS else "MISSES"
    print(
        f"\np99 of an offline verify: {percentile(times, 0.99):.1f} us ({verdict} the {TARGET_MS:.0f} ms target)"
    )


if __name__ == "__main__":
    main()
