"""Memory readings the benchmarks share (Linux)."""

import resource


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
