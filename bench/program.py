"""Benchmark: the program page and the schedule.json export under concurrent load.

Serves the demo with the production server (granian, WSGI, 2 workers) and loads it with wrk
from the same 2-core machine, so the figures include the load generator's share of the CPU.
Target (issue 2): program page >= 3,000 requests/s with p99 < 50 ms, each server process
under 300 MB resident.

    make bench            (or: .venv/bin/python bench/program.py --duration 10)
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import production_server

TARGET_RPS = 3000
TARGET_P99_MS = 50
TARGET_RSS_MB = 300


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return wrk


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, url: str, *, duration: int, connections: int) -> dict[str, float]:
    output = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latencies = {
        int(p): _ms(v, u)
        for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {
        "rps": rps,
        "p50": latencies[50],
        "p99": latencies[99],
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per URL")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    wrk = ensure_wrk()
    with production_server(workers=options.workers) as server:
        urls = {
            "program page (en)": "/en/2027/program/",
            "program page (fa)": "/fa/2027/program/",
            "schedule.json": "/export/2027/schedule.json",
        }
        for path in urls.values():  # warm the page cache and check the page exists
            with urllib.request.urlopen(server.base_url + path, timeout=10) as response:
                if response.status != 200:
                    raise SystemExit(f"{path} answered {response.status}")
        print(
            f"server: granian WSGI, {options.workers} workers; load: wrk -t2 "
            f"-c{options.connections} -d{options.duration}s on the same machine"
        )
        results = {}
        for name, path in urls.items():
            results[name] = figures = run_wrk(
                wrk,
                server.base_url + path,
                duration=options.duration,
                connections=options.connections,
            )
            print(
                f"{name:20} {figures['rps']:9,.0f} req/s   p50 {figures['p50']:6.2f} ms"
                f"   p99 {figures['p99']:6.2f} ms   non-2xx {figures['non_2xx']:.0f}"
            )
        rss = server.worker_rss_mb()
        print(
            "resident memory per server process (MB): " + ", ".join(f"{size:.0f}" for size in rss)
        )
    page = results["program page (en)"]
    verdict = page["rps"] >= TARGET_RPS and page["p99"] < TARGET_P99_MS and max(rss) < TARGET_RSS_MB
    print(
        f"target: program page >= {TARGET_RPS} req/s, p99 < {TARGET_P99_MS} ms, "
        f"< {TARGET_RSS_MB} MB per process -> {'met' if verdict else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
