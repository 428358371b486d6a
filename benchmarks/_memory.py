"""Memory readings the benchmarks share (Linux)."""

import resource
import threading
import time


def rss_now_bytes() -> int:
    """This process's resident set size now."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes(who: int = resource.RUSAGE_SELF) -> int:
    """The peak resident set size of this process (or, with RUSAGE_CHILDREN, of its largest waited-for child)."""
    return resource.getrusage(who).ru_maxrss * 1024  # kB on Linux


class RssSampler:
    """Reads this process's RSS every `interval_s` in a thread of its own, with the time of each
    reading, so that a stretch of the run (a step) gets its own peak. Cheap: one read of
    /proc/self/status per sample."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), rss_now_bytes()))
            self._stop.wait(self.interval_s)

    def peak_between(self, start: float, end: float) -> int:
        """The highest reading taken in [start, end] (time.time() seconds); 0 if none."""
        return max((rss for at, rss in self.samples if start <= at <= end), default=0)
