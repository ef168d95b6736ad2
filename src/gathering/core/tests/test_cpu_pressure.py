"""``core.cpu_pressure``: the share of time the CPU was contended, read from a PSI file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gathering.core.cpu_pressure import PSI_CPU, CpuPressure

pytestmark = pytest.mark.engine_agnostic


def write_psi(path: Path, total_us: int) -> None:
    path.write_text(
        f"some avg10=1.00 avg60=1.00 avg300=1.00 total={total_us}\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    )


def test_the_share_is_the_stalled_time_over_the_time_passed(tmp_path: Path) -> None:
    psi = tmp_path / "cpu"
    write_psi(psi, 1_000_000)
    t0 = time.monotonic()
    pressure = CpuPressure(psi)
    t1 = time.monotonic()
    time.sleep(0.2)
    write_psi(psi, 1_000_000 + 150_000)  # 0.15 s of waiting
    t2 = time.monotonic()
    share = pressure.share()
    t3 = time.monotonic()
    # The object's own interval lies between t2 - t1 and t3 - t0, whatever the machine does.
    assert share is not None
    assert 0.15 / (t3 - t0) <= share <= 0.15 / (t2 - t1)


def test_the_share_is_bounded_and_reset_at_each_reading(tmp_path: Path) -> None:
    psi = tmp_path / "cpu"
    write_psi(psi, 0)
    pressure = CpuPressure(psi)
    time.sleep(0.1)
    write_psi(psi, 10_000_000)  # more waiting than time passed (several tasks): capped
    assert pressure.share() == 1.0
    time.sleep(0.1)
    assert pressure.share() == 0.0  # nothing more since the last reading


def test_too_soon_or_without_psi_there_is_no_reading(tmp_path: Path) -> None:
    psi = tmp_path / "cpu"
    write_psi(psi, 0)
    pressure = CpuPressure(psi)
    assert pressure.share() is None  # less than 50 ms since the first reading
    assert CpuPressure(tmp_path / "missing").share() is None
    (tmp_path / "garbled").write_text("some avg10=oops\n")
    assert CpuPressure(tmp_path / "garbled").share() is None


@pytest.mark.skipif(not PSI_CPU.exists(), reason="this kernel has no /proc/pressure/cpu")
def test_the_kernels_file_gives_a_share() -> None:
    pressure = CpuPressure()
    time.sleep(0.1)
    share = pressure.share()
    assert share is not None and 0.0 <= share <= 1.0
