"""Is the CPU saturated right now? Linux's pressure stall information (PSI) says it.

``/proc/pressure/cpu`` counts, in microseconds, the time during which at least one runnable
task waited for a CPU. Its growth over the last moments, divided by the time passed, is the
share of that time the CPU was contended: near 0 on an idle machine, near 1 under a surge of
requests. The email worker reads it to step aside (``gathering.cli.worker``). Elsewhere than on
Linux 4.20+ (or where PSI is off) there is no reading, and nothing steps aside.
"""

from __future__ import annotations

import time
from pathlib import Path

PSI_CPU = Path("/proc/pressure/cpu")


class CpuPressure:
    def __init__(self, path: Path = PSI_CPU) -> None:
        self.path = path
        self._last = self._read()

    def _read(self) -> tuple[float, int] | None:
        try:
            first = self.path.read_text().split("\n", 1)[0]  # "some avg10=… total=<µs>"
            return time.monotonic(), int(first.rsplit("total=", 1)[1])
        except (OSError, ValueError, IndexError):
            return None

    def share(self) -> float | None:
        """The share of the time since the previous call (or since this object was made)
        during which some task waited for a CPU; None without PSI or too soon to tell."""
        reading = self._read()
        if reading is None or self._last is None:
            self._last = reading
            return None
        (before, stalled_before), (now, stalled) = self._last, reading
        if now - before < 0.05:
            return None
        self._last = reading
        return max(0.0, min(1.0, (stalled - stalled_before) / 1e6 / (now - before)))
