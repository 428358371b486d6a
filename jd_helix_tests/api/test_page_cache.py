"""Pages are kept per snapshot, least recently used out first once over budget; the budget
holds whatever keys clients make up."""

import tracemalloc

from jd_helix.api.page_cache import ENTRY_OVERHEAD_BYTES, CachedPage, PageCache


def test_a_page_is_computed_once_and_the_oldest_goes_when_over_budget():
    cache = PageCache(budget_bytes=2 * (4 + ENTRY_OVERHEAD_BYTES) + 2)  # two 4-byte pages fit, not three
    calls = []

    def page(body: bytes):
        def compute() -> CachedPage:
            calls.append(body)
            return CachedPage(body)

        return compute

    assert cache.get_or_compute("a", page(b"aaaa")).body == b"aaaa"
    assert cache.get_or_compute("a", page(b"other")).body == b"aaaa"  # kept
    cache.get_or_compute("b", page(b"bbbb"))
    cache.get_or_compute("a", page(b"aaaa"))  # a is now the most recent
    cache.get_or_compute("c", page(b"cccc"))  # three over budget: b goes
    assert cache.get_or_compute("b", page(b"bbbb")).body == b"bbbb"
    assert calls == [b"aaaa", b"bbbb", b"cccc", b"bbbb"]
    huge = b"x" * cache.budget_bytes
    assert cache.get_or_compute("huge", page(huge)).body == huge  # served, not kept
    assert cache.get_or_compute("huge", page(b"y")).body == b"y"


def test_keys_a_client_makes_up_count_against_the_budget():
    """Issue 26: 3,000 requests with unique filter values grew the server by ~97 MiB, as
    the cache counted its answers' bytes but not its keys'. Here 20,000 tiny answers under
    2 KB keys (~40 MB of keys) stay within a 1 MiB budget, in accounting and in memory."""
    budget = 1024 * 1024
    cache = PageCache(budget_bytes=budget)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(20_000):
            store_id = f"{n:08d}" + "s" * 2000
            cache.get_or_compute(("store", store_id), lambda: CachedPage(b"0"))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.bytes_held <= budget
    assert 0 < len(cache) <= budget // ENTRY_OVERHEAD_BYTES
    assert grown <= budget, f"the cache holds {grown / 2**20:.1f} MiB for a 1 MiB budget"
