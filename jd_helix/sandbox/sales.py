"""Lazily generated JD transactions.

Hour `h` (epoch hours, UTC) has `count(h)` sale slots. Slot `i` of hour `h` is computed
from (seed, h, i) alone with splitmix64, so a page costs O(page) and a million-sale hour
is never held in memory. Instants are whole seconds and never decrease with `i`
(a duplicate repeats an earlier sale, so it carries that sale's earlier instant).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Iterator

from jd_helix.sandbox import rules
from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.hashing import mix, splitmix64, str_key, unit
from jd_helix.sandbox.jd_query import BadRequest, decode_cursor, encode_cursor, to_epoch_us
from jd_helix.sandbox.truth import SalesTruth, TruthRejection, TruthSale
from jd_helix.sandbox.world import World

NORMAL, DUP, MISSING, NULL, WRONG, NEG, UNKNOWN_CAM = range(7)
KIND_NAMES = {NORMAL: "normal", DUP: "duplicate", MISSING: "missing_field", NULL: "null_field",
              WRONG: "wrong_kind", NEG: "negative_amount", UNKNOWN_CAM: "unknown_camera"}
SALE_FIELDS = ("transaction_id", "transaction_date", "transaction_amount", "item_id", "camera_id")
WRONG_VARIANTS = [
    ("transaction_amount", "abc"),
    ("transaction_amount", {"value": 12.5, "currency": "GBP"}),
    ("transaction_amount", "12.345"),
    ("transaction_id", [1, 2]),
    ("transaction_id", True),
    ("item_id", False),
    ("camera_id", 12.5),
    ("transaction_date", "not a date"),
    ("transaction_date", "31/02/2024 25:61"),
]
EXTRA_SALE_FIELDS = [("loyalty_member", True), ("channel", "in-store"), ("till_session", 88123),
                     ("promo_code", None), ("meta", {"v": 2})]
OTHER_OFFSETS = [3600, -18000, 19800, 0, 7200, -25200]
# Weight of each local hour of the day, and of each weekday (Monday first).
DAILY = [0.05, 0.03, 0.02, 0.02, 0.02, 0.03, 0.08, 0.2, 0.45, 0.8, 1.1, 1.35,
         1.6, 1.7, 1.75, 1.7, 1.6, 1.45, 1.3, 1.05, 0.75, 0.45, 0.2, 0.1]
WEEKLY = [0.85, 0.85, 0.9, 0.95, 1.1, 1.5, 0.9]
_MEAN = sum(d * w for d in DAILY for w in WEEKLY) / 168


class _Hour:
    __slots__ = ("hour", "n", "key", "offset")

    def __init__(self, hour: int, n: int, key: int, offset: int | None):
        self.hour, self.n, self.key, self.offset = hour, n, key, offset


class SalesGenerator:
    def __init__(self, cfg: SandboxConfig, world: World):
        self.cfg = cfg
        self.world = world
        self.tz = rules.zone(cfg.timezone)
        self.seed = cfg.seed
        self.salt = mix(cfg.seed, str_key("sales"))
        self.cam_values = [c.camera_id for c in world.jd_cameras]
        self.n_cams = len(self.cam_values)
        self.n_items = len(world.item_prices)
        self.prices = world.item_prices
        self.unknown_vids = list(world.extra_verkada_ids)
        c = cfg
        acc, thr = 0.0, []
        for kind, rate in ((DUP, c.duplicate_rate), (MISSING, c.missing_field_rate), (NULL, c.null_field_rate),
                           (WRONG, c.wrong_kind_rate), (NEG, c.negative_amount_rate),
                           (UNKNOWN_CAM, c.unknown_camera_rate)):
            if rate > 0:
                acc += rate
                thr.append((int(acc * (1 << 32)), kind))
        self._thr = thr
        self._shared = int(c.shared_camera_second_rate * (1 << 32))
        self._id_str = int(c.id_as_string_rate * (1 << 32))
        self._id_str16 = int(c.id_as_string_rate * (1 << 16))
        self._amt_str = int(c.amount_as_string_rate * (1 << 32))
        self._d_off = int(c.date_iso_offset_rate * (1 << 32))
        self._d_z = int((c.date_iso_offset_rate + c.date_iso_z_rate) * (1 << 32))
        self._extra = int(c.extra_field_rate * (1 << 32))
        self._dmax = max(1, c.duplicate_max_distance)
        self._hours: dict[int, _Hour] = {}
        self._mapping: dict[str, str | None] | None = None

    # ------------------------------------------------------------------ hours
    def count(self, hour: int) -> int:
        cfg = self.cfg
        if cfg.fixed_sales_per_hour is not None:
            return cfg.fixed_sales_per_hour
        local = datetime.fromtimestamp(hour * 3600, self.tz)
        w = DAILY[local.hour] * WEEKLY[local.weekday()] / _MEAN
        x = cfg.sales_per_hour * w * (0.85 + 0.3 * unit(self.seed, 11, hour))
        n = int(x)
        return n + (1 if unit(self.seed, 12, hour) < x - n else 0)

    def hour_ctx(self, hour: int) -> _Hour:
        ctx = self._hours.get(hour)
        if ctx is None:
            offset: int | None
            if self.tz is timezone.utc:
                offset = 0
            else:
                a = datetime.fromtimestamp(hour * 3600 - 3600, self.tz).utcoffset()
                b = datetime.fromtimestamp(hour * 3600 + 7200, self.tz).utcoffset()
                # near a DST change an offset-less local time may be ambiguous: use the offset form
                offset = int(a.total_seconds()) if a == b else None
            ctx = _Hour(hour, self.count(hour), mix(self.salt, hour), offset)
            if len(self._hours) > 512:
                self._hours.clear()
            self._hours[hour] = ctx
        return ctx

    # ------------------------------------------------------------------ slots
    def _kind(self, b1: int) -> int:
        r = b1 & 0xFFFFFFFF
        for t, kind in self._thr:
            if r < t:
                return kind
        return NORMAL

    def _base(self, ctx: _Hour, i: int, b0: int) -> int:
        return ctx.hour * 3600 + (((i << 32) + (b0 & 0xFFFFFFFF)) * 3600) // (ctx.n << 32)

    def _leader(self, ctx: _Hour, i: int, b0: int) -> tuple[int, int]:
        """The first slot of i's shared-camera-and-second group (i itself if not shared)."""
        sh = self._shared
        while i > 0 and (b0 >> 32) < sh:
            i -= 1
            b0 = splitmix64(ctx.key ^ i)
        return i, b0

    def instant(self, ctx: _Hour, i: int) -> int:
        b0 = splitmix64(ctx.key ^ i)
        j, bj = self._leader(ctx, i, b0)
        return self._base(ctx, j, bj)

    def kind_of(self, ctx: _Hour, i: int) -> int:
        return self._kind(splitmix64(splitmix64(ctx.key ^ i)))

    def _canonical(self, ctx: _Hour, i: int, b0: int, b1: int, kind: int):
        """(transaction_id int, instant s, camera value, item index, amount pence) of slot i."""
        j, bj = self._leader(ctx, i, b0)
        inst = self._base(ctx, j, bj)
        b2 = splitmix64(b1)
        if kind == UNKNOWN_CAM:
            v = b1 >> 32
            if self.unknown_vids and v & 1:
                cam = self.unknown_vids[(v >> 1) % len(self.unknown_vids)]
            else:
                cam = 900_000 + (v >> 1) % 1000
        else:
            cb2 = b2 if j == i else splitmix64(splitmix64(bj))
            cam = self.cam_values[(cb2 & 0xFFFFFFFF) % self.n_cams]
        item = (b2 >> 32) % self.n_items
        b5 = splitmix64(b2 ^ 0x5555)
        q = (b5 >> 32) & 0xFFFF
        qty = 1 if q < 55700 else (2 if q < 63900 else 3)
        amount = self.prices[item] * qty
        if (b5 >> 48) & 0xF == 0:
            amount = amount * 80 // 100  # a 20% discount, still whole pence
        return ctx.hour * 10_000_000 + i, inst, cam, item, amount

    def slot(self, ctx: _Hour, i: int) -> tuple[dict[str, Any], int, int]:
        """(raw record, instant used by the start/end filter, kind) of slot i."""
        b0 = splitmix64(ctx.key ^ i)
        b1 = splitmix64(b0)
        kind = self._kind(b1)
        v = b1 >> 32
        if kind == DUP:
            k = i - 1 - v % min(i, self._dmax) if i > 0 else -1
            if k >= 0:
                k0 = splitmix64(ctx.key ^ k)
                k1 = splitmix64(k0)
                kk = self._kind(k1)
            if k < 0 or kk not in (NORMAL, UNKNOWN_CAM):
                kind = NORMAL
                tid, inst, cam, item, amount = self._canonical(ctx, i, b0, b1, NORMAL)
            else:
                tid, inst, cam, item, amount = self._canonical(ctx, k, k0, k1, kk)
                if (v >> 20) & 1:
                    amount = amount + 100 + (v >> 21) % 500  # a corrected amount: the last one wins
        else:
            tid, inst, cam, item, amount = self._canonical(ctx, i, b0, b1, kind)
        b3 = splitmix64(b1 ^ 0x3333)
        b4 = splitmix64(b3)
        b5 = splitmix64(b4)
        ids = self._id_str
        rec = {
            "transaction_id": str(tid) if (b3 & 0xFFFFFFFF) < ids else tid,
            "transaction_date": self._date(ctx, inst, b4),
            "transaction_amount": (f"{amount // 100}.{amount % 100:02d}" if (b4 & 0xFFFFFFFF) < self._amt_str
                                   else (amount // 100 if amount % 100 == 0 else amount / 100)),
            "item_id": str(10001 + item) if ((b3 >> 32) & 0xFFFF) < self._id_str16 else 10001 + item,
            "camera_id": str(cam) if (b3 >> 48) < self._id_str16 and isinstance(cam, int) else cam,
        }
        if (b5 & 0xFFFFFFFF) < self._extra:
            k_, val = EXTRA_SALE_FIELDS[(b5 >> 32) % len(EXTRA_SALE_FIELDS)]
            rec[k_] = val
        if kind > DUP:
            if kind == MISSING:
                del rec[SALE_FIELDS[v % 5]]
            elif kind == NULL:
                rec[SALE_FIELDS[v % 5]] = None
            elif kind == WRONG:
                f, val = WRONG_VARIANTS[v % len(WRONG_VARIANTS)]
                rec[f] = val
            elif kind == NEG:
                a = rec["transaction_amount"]
                rec["transaction_amount"] = ("-" + a) if isinstance(a, str) else -a
        return rec, inst, kind

    def _date(self, ctx: _Hour, inst: int, b4: int) -> str:
        r = b4 >> 32
        off = ctx.offset
        if r < self._d_off or (off is None and r >= self._d_z):
            if off is None:
                off = int(datetime.fromtimestamp(inst, self.tz).utcoffset().total_seconds())
            elif off == 0 and self.tz is timezone.utc:
                off = OTHER_OFFSETS[(b4 & 0xFFFF) % len(OTHER_OFFSETS)]
            t = time.gmtime(inst + off)
            sign = "+" if off >= 0 else "-"
            a = abs(off)
            return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
                    f"{sign}{a // 3600:02d}:{a % 3600 // 60:02d}")
        if r < self._d_z:
            t = time.gmtime(inst)
            frac = ".000" if b4 & 0x10000 else ""
            return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
                    f"{t.tm_sec:02d}{frac}Z")
        t = time.gmtime(inst + off)
        return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"

    # ----------------------------------------------------------------- windows
    def _first_at_or_after(self, ctx: _Hour, s: int) -> int:
        lo, hi = 0, ctx.n
        while lo < hi:
            mid = (lo + hi) // 2
            if self.instant(ctx, mid) < s:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def iter_window(self, lo_s: int, hi_s: int, hour: int | None = None, slot: int = 0
                    ) -> Iterator[tuple[int, int, dict[str, Any], int]]:
        """(hour, slot, record, kind) of every sale with lo_s <= instant < hi_s, in order,
        starting at (hour, slot)."""
        if hi_s <= lo_s:
            return
        first, last = lo_s // 3600, (hi_s - 1) // 3600
        h = first if hour is None else hour
        while h <= last:
            ctx = self.hour_ctx(h)
            n = ctx.n
            if n:
                if h * 3600 >= lo_s and (h + 1) * 3600 <= hi_s:
                    for i in range(slot, n):
                        rec, _, kind = self.slot(ctx, i)
                        yield h, i, rec, kind
                else:
                    a = self._first_at_or_after(ctx, lo_s)
                    b = self._first_at_or_after(ctx, hi_s)
                    for i in range(max(slot, a), min(n, b + self._dmax)):
                        rec, inst, kind = self.slot(ctx, i)
                        if lo_s <= inst < hi_s:
                            yield h, i, rec, kind
            h += 1
            slot = 0

    def page(self, lo_s: int, hi_s: int, limit: int, cursor: str | None) -> tuple[list, str | None, int]:
        """(records, next_cursor, hour of the page's first slot)."""
        fp = mix(lo_s, hi_s, 0x5A1E5) & 0xFFFFFFFF
        hour, slot = None, 0
        if cursor is not None:
            c = decode_cursor(cursor)
            if len(c) != 4 or c[0] != "s" or not all(isinstance(x, int) for x in c[1:]):
                raise BadRequest("invalid cursor")
            if c[1] != fp:
                raise BadRequest("cursor was issued for other start/end filters")
            hour, slot = c[2], c[3]
            if not (lo_s // 3600 <= hour <= (hi_s - 1) // 3600) or slot < 0:
                raise BadRequest("invalid cursor")
        out = []
        page_hour = hour if hour is not None else lo_s // 3600
        for h, i, rec, _ in self.iter_window(lo_s, hi_s, hour, slot):
            if len(out) == limit:
                return out, encode_cursor(["s", fp, h, i]), page_hour
            out.append(rec)
        return out, None, page_hour

    # ------------------------------------------------------------------ truth
    def mapping(self) -> dict[str, str | None]:
        if self._mapping is None:
            self._mapping = self.world.camera_mapping()
        return self._mapping

    def truth(self, start: datetime, end: datetime) -> SalesTruth:
        lo_s = -(-to_epoch_us(start) // 1_000_000)
        hi_s = -(-to_epoch_us(end) // 1_000_000)
        mapping = self.mapping()
        vids = self.world.verkada_ids()
        valid: dict[str, TruthSale] = {}
        rejected: list[TruthRejection] = []
        for _, _, rec, _ in self.iter_window(lo_s, hi_s):
            try:
                n = rules.validate("sales", rec, self.tz)
            except rules.FieldError as e:
                rejected.append(TruthRejection(raw=rec, field=e.field, reason=e.reason))
                continue
            cam = n["camera_id"]
            vid = mapping[cam] if cam in mapping else (cam if cam in vids else None)
            inst = n["transaction_date"]
            tid = n["transaction_id"]
            valid.pop(tid, None)
            valid[tid] = TruthSale(tid, inst, to_epoch_us(inst) // 1000, n["transaction_amount"],
                                   n["item_id"], cam, vid)
        return SalesTruth(valid, rejected)
