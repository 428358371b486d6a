"""Pages are kept per snapshot, least recently used out first once over budget."""

from jd_helix.api.page_cache import PageCache


def test_a_page_is_computed_once_and_the_oldest_goes_when_over_budget():
    cache = PageCache(budget_bytes=10)
    calls = []

    def page(body: bytes):
        def compute() -> bytes:
            calls.append(body)
            return body

        return compute

    assert cache.get_or_compute("a", page(b"aaaa")) == b"aaaa"
    assert cache.get_or_compute("a", page(b"other")) == b"aaaa"  # kept
    cache.get_or_compute("b", page(b"bbbb"))
    cache.get_or_compute("a", page(b"aaaa"))  # a is now the most recent
    cache.get_or_compute("c", page(b"cccc"))  # 12 bytes > 10: b goes
    assert cache.get_or_compute("b", page(b"bbbb")) == b"bbbb"
    assert calls == [b"aaaa", b"bbbb", b"cccc", b"bbbb"]
    assert cache.get_or_compute("huge", page(b"x" * 11)) == b"x" * 11  # served, not kept
    assert cache.get_or_compute("huge", page(b"y" * 11)) == b"y" * 11
