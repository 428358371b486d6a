"""Lazily generated JD transactions.

Hour `h` (epoch hours, UTC) has `count(h)` sale slots. Slot `i` of hour `h` is computed
from (seed, h, i) alone with splitmix64, so a page costs O(page) and a million-sale hour
is never held in memory. Instants are whole seconds and never decrease with `i`
(a duplicate repeats an earlier sale, so it carries that sale's earlier instant).

A slot draws a chain of 64-bit hashes, each feeding the next, and reads its choices from
their bits:
    time_bits    = splitmix64(hour key ^ slot)  low 32: the second within the slot's share of
                                                the hour; high 32: shares the previous slot's
                                                camera and second?
    kind_bits    = splitmix64(time_bits)        low 32: the kind; high 32 (`variant`): which
                                                field, which repeat, which unknown camera
    pick_bits    = splitmix64(kind_bits)        low 32: the camera; high 32: the item
    basket_bits  = splitmix64(pick_bits ^ ..)   quantity and discount
    id_text_bits = splitmix64(kind_bits ^ ..)   which ids are sent as strings
    format_bits  = splitmix64(id_text_bits)     the date's form, the amount as text
    extra_bits   = splitmix64(format_bits)      an extra field
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any

from jd_helix.sandbox import rules
from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.hashing import mix, splitmix64, str_key, unit
from jd_helix.sandbox.jd_query import BadRequest, decode_cursor, encode_cursor, to_epoch_us
from jd_helix.sandbox.truth import SalesTruth, TruthRejection, TruthSale
from jd_helix.sandbox.world import World

# The kinds of sale slot: a normal sale, a refund, or one of the record-level oddities of the
# config. DUP, UNKNOWN_CAM and REFUND are valid records; the INVALID_KINDS are not.
NORMAL, DUP, MISSING, NULL, WRONG, ZERO, UNKNOWN_CAM, REFUND = range(8)
INVALID_KINDS = (MISSING, NULL, WRONG, ZERO)
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
EXTRA_SALE_FIELDS = [
    ("loyalty_member", True),
    ("channel", "in-store"),
    ("till_session", 88123),
    ("promo_code", None),
    ("meta", {"v": 2}),
]
OTHER_OFFSETS = [3600, -18000, 19800, 0, 7200, -25200]  # offsets a UTC API's dates may carry
FIRST_ITEM_ID = 10001
UNKNOWN_CAMERA_IDS = 900_000  # JD camera ids from here on are on no JD camera list
# Weight of each local hour of the day, and of each weekday (Monday first).
DAILY = [
    0.05,
    0.03,
    0.02,
    0.02,
    0.02,
    0.03,
    0.08,
    0.2,
    0.45,
    0.8,
    1.1,
    1.35,
    1.6,
    1.7,
    1.75,
    1.7,
    1.6,
    1.45,
    1.3,
    1.05,
    0.75,
    0.45,
    0.2,
    0.1,
]
WEEKLY = [0.85, 0.85, 0.9, 0.95, 1.1, 1.5, 0.9]
_MEAN = sum(hour_weight * day_weight for hour_weight in DAILY for day_weight in WEEKLY) / 168


class SalesHour:
    """One epoch hour's sales: `n` slots, the hash `key` of its slots, and the UTC offset of
    its offset-less dates (None near a DST change, where those dates carry an offset)."""

    __slots__ = ("hour", "key", "n", "offset")

    def __init__(self, hour: int, n: int, key: int, offset: int | None):
        self.hour, self.n, self.key, self.offset = hour, n, key, offset


# (transaction id, instant in epoch seconds, camera id as served, item index, amount in pence)
Sale = tuple[int, int, int | str, int, int]


def _threshold(rate: float, bits: int = 32) -> int:
    """A rate as a threshold on `bits` hash bits, so the hot path compares integers."""
    return int(rate * (1 << bits))


class SalesGenerator:
    def __init__(self, config: SandboxConfig, world: World):
        self.config = config
        self.world = world
        self.zone = rules.zone(config.timezone)
        self.seed = config.seed
        self.salt = mix(config.seed, str_key("sales"))
        self.camera_values = [camera.camera_id for camera in world.jd_cameras]
        self.camera_count = len(self.camera_values)
        self.prices = world.item_prices
        self.item_count = len(self.prices)
        self.unknown_verkada_ids = list(world.extra_verkada_ids)
        self._kind_thresholds = _kind_thresholds(config)
        self._shared_threshold = _threshold(config.shared_camera_second_rate)
        self._id_text_threshold = _threshold(config.id_as_string_rate)
        self._id_text_threshold_16 = _threshold(config.id_as_string_rate, 16)
        self._amount_text_threshold = _threshold(config.amount_as_string_rate)
        self._offset_date_threshold = _threshold(config.date_iso_offset_rate)
        self._offset_or_z_date_threshold = _threshold(config.date_iso_offset_rate + config.date_iso_z_rate)
        self._extra_field_threshold = _threshold(config.extra_field_rate)
        self._max_repeat_distance = max(1, config.duplicate_max_distance)
        self._hours: dict[int, SalesHour] = {}
        self._mapping: dict[str, str | None] | None = None

    # ------------------------------------------------------------------ hours
    def count(self, hour: int) -> int:
        config = self.config
        if config.fixed_sales_per_hour is not None:
            return config.fixed_sales_per_hour
        local = datetime.fromtimestamp(hour * 3600, self.zone)
        weight = DAILY[local.hour] * WEEKLY[local.weekday()] / _MEAN
        expected = config.sales_per_hour * weight * (0.85 + 0.3 * unit(self.seed, 11, hour))
        whole = int(expected)
        return whole + (1 if unit(self.seed, 12, hour) < expected - whole else 0)

    def hour_ctx(self, hour: int) -> SalesHour:
        sales_hour = self._hours.get(hour)
        if sales_hour is None:
            offset: int | None
            if self.zone is UTC:
                offset = 0
            else:
                before = _utc_offset_s(self.zone, hour * 3600 - 3600)
                after = _utc_offset_s(self.zone, hour * 3600 + 7200)
                # near a DST change an offset-less local time may be ambiguous: use the offset form
                offset = before if before == after else None
            sales_hour = SalesHour(hour, self.count(hour), mix(self.salt, hour), offset)
            if len(self._hours) > 512:
                self._hours.clear()
            self._hours[hour] = sales_hour
        return sales_hour

    # ------------------------------------------------------------------ slots
    def _kind(self, kind_bits: int) -> int:
        draw = kind_bits & 0xFFFFFFFF
        for threshold, kind in self._kind_thresholds:
            if draw < threshold:
                return kind
        return NORMAL

    @staticmethod
    def _second(hour: SalesHour, slot: int, time_bits: int) -> int:
        """The slot's own second: the hour split evenly among its slots, jittered."""
        return hour.hour * 3600 + (((slot << 32) + (time_bits & 0xFFFFFFFF)) * 3600) // (hour.n << 32)

    def _group_leader(self, hour: SalesHour, slot: int, time_bits: int) -> tuple[int, int]:
        """(slot, time_bits) of the first slot of the slot's shared-camera-and-second group
        (the slot itself when it shares nothing)."""
        shared_threshold = self._shared_threshold
        while slot > 0 and (time_bits >> 32) < shared_threshold:
            slot -= 1
            time_bits = splitmix64(hour.key ^ slot)
        return slot, time_bits

    def instant(self, hour: SalesHour, slot: int) -> int:
        """The slot's instant (epoch seconds) before any repeat: never decreases with the slot."""
        leader, leader_time_bits = self._group_leader(hour, slot, splitmix64(hour.key ^ slot))
        return self._second(hour, leader, leader_time_bits)

    def kind_of(self, hour: SalesHour, slot: int) -> int:
        return self._kind(splitmix64(splitmix64(hour.key ^ slot)))

    def _sale(self, hour: SalesHour, slot: int, time_bits: int, kind_bits: int, kind: int) -> Sale:
        leader, leader_time_bits = self._group_leader(hour, slot, time_bits)
        instant = self._second(hour, leader, leader_time_bits)
        pick_bits = splitmix64(kind_bits)
        camera: int | str
        if kind == UNKNOWN_CAM:
            variant = kind_bits >> 32
            if self.unknown_verkada_ids and variant & 1:
                camera = self.unknown_verkada_ids[(variant >> 1) % len(self.unknown_verkada_ids)]
            else:
                camera = UNKNOWN_CAMERA_IDS + (variant >> 1) % 1000
        else:
            camera_bits = pick_bits if leader == slot else splitmix64(splitmix64(leader_time_bits))
            camera = self.camera_values[(camera_bits & 0xFFFFFFFF) % self.camera_count]
        item = (pick_bits >> 32) % self.item_count
        basket_bits = splitmix64(pick_bits ^ 0x5555)
        quantity_draw = (basket_bits >> 32) & 0xFFFF
        quantity = 1 if quantity_draw < 55700 else (2 if quantity_draw < 63900 else 3)
        amount = self.prices[item] * quantity
        if (basket_bits >> 48) & 0xF == 0:
            amount = amount * 80 // 100  # a 20% discount, still whole pence
        if kind == REFUND:
            amount = -amount  # the basket given back
        return hour.hour * 10_000_000 + slot, instant, camera, item, amount

    def _repeated_sale(self, hour: SalesHour, slot: int, time_bits: int, kind_bits: int) -> tuple[int, Sale]:
        """(kind, sale) of a DUP slot: an earlier valid sale of the hour again, at times with a
        corrected amount (the last one wins); a NORMAL sale when there is none to repeat."""
        variant = kind_bits >> 32
        if slot > 0:
            original = slot - 1 - variant % min(slot, self._max_repeat_distance)
            original_time_bits = splitmix64(hour.key ^ original)
            original_kind_bits = splitmix64(original_time_bits)
            original_kind = self._kind(original_kind_bits)
            if original_kind in (NORMAL, UNKNOWN_CAM):
                transaction_id, instant, camera, item, amount = self._sale(
                    hour, original, original_time_bits, original_kind_bits, original_kind
                )
                if (variant >> 20) & 1:
                    amount = amount + 100 + (variant >> 21) % 500
                return DUP, (transaction_id, instant, camera, item, amount)
        return NORMAL, self._sale(hour, slot, time_bits, kind_bits, NORMAL)

    def slot(self, hour: SalesHour, slot: int) -> tuple[dict[str, Any], int, int]:
        """(raw record, instant used by the start/end filter, kind) of the slot."""
        time_bits = splitmix64(hour.key ^ slot)
        kind_bits = splitmix64(time_bits)
        kind = self._kind(kind_bits)
        if kind == DUP:
            kind, sale = self._repeated_sale(hour, slot, time_bits, kind_bits)
        else:
            sale = self._sale(hour, slot, time_bits, kind_bits, kind)
        transaction_id, instant, camera, item, amount = sale
        id_text_bits = splitmix64(kind_bits ^ 0x3333)
        format_bits = splitmix64(id_text_bits)
        extra_bits = splitmix64(format_bits)
        id_text_16 = self._id_text_threshold_16
        record: dict[str, Any] = {
            "transaction_id": (
                str(transaction_id) if (id_text_bits & 0xFFFFFFFF) < self._id_text_threshold else transaction_id
            ),
            "transaction_date": self._transaction_date(hour, instant, format_bits),
            "transaction_amount": (
                f"{'-' if amount < 0 else ''}{abs(amount) // 100}.{abs(amount) % 100:02d}"
                if (format_bits & 0xFFFFFFFF) < self._amount_text_threshold
                else (amount // 100 if amount % 100 == 0 else amount / 100)
            ),
            "item_id": (
                str(FIRST_ITEM_ID + item) if ((id_text_bits >> 32) & 0xFFFF) < id_text_16 else FIRST_ITEM_ID + item
            ),
            "camera_id": str(camera) if (id_text_bits >> 48) < id_text_16 and isinstance(camera, int) else camera,
        }
        if (extra_bits & 0xFFFFFFFF) < self._extra_field_threshold:
            name, value = EXTRA_SALE_FIELDS[(extra_bits >> 32) % len(EXTRA_SALE_FIELDS)]
            record[name] = value
        if kind in INVALID_KINDS:
            _break_record(record, kind, kind_bits >> 32)
        return record, instant, kind

    def _transaction_date(self, hour: SalesHour, instant: int, format_bits: int) -> str:
        """The instant in one of the JD forms: with an offset, with Z, or offset-less local."""
        form_draw = format_bits >> 32
        offset_form = form_draw < self._offset_date_threshold
        if not offset_form and form_draw < self._offset_or_z_date_threshold:
            utc = time.gmtime(instant)
            fraction = ".000" if format_bits & 0x10000 else ""
            return (
                f"{utc.tm_year:04d}-{utc.tm_mon:02d}-{utc.tm_mday:02d}T"
                f"{utc.tm_hour:02d}:{utc.tm_min:02d}:{utc.tm_sec:02d}{fraction}Z"
            )
        offset = hour.offset
        if offset_form or offset is None:  # None: an offset-less local time would be ambiguous
            if offset is None:
                offset = _utc_offset_s(self.zone, instant)
            elif offset == 0 and self.zone is UTC:
                offset = OTHER_OFFSETS[(format_bits & 0xFFFF) % len(OTHER_OFFSETS)]
            local = time.gmtime(instant + offset)
            sign = "+" if offset >= 0 else "-"
            offset_abs = abs(offset)
            return (
                f"{local.tm_year:04d}-{local.tm_mon:02d}-{local.tm_mday:02d}T"
                f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d}"
                f"{sign}{offset_abs // 3600:02d}:{offset_abs % 3600 // 60:02d}"
            )
        local = time.gmtime(instant + offset)
        return (
            f"{local.tm_year:04d}-{local.tm_mon:02d}-{local.tm_mday:02d} "
            f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d}"
        )

    # ----------------------------------------------------------------- windows
    def _first_slot_at_or_after(self, hour: SalesHour, second: int) -> int:
        low, high = 0, hour.n
        while low < high:
            middle = (low + high) // 2
            if self.instant(hour, middle) < second:
                low = middle + 1
            else:
                high = middle
        return low

    def iter_window(
        self, start_s: int, end_s: int, hour: int | None = None, slot: int = 0
    ) -> Iterator[tuple[int, int, dict[str, Any], int]]:
        """(hour, slot, record, kind) of every sale with start_s <= instant < end_s, in order,
        starting at (hour, slot)."""
        if end_s <= start_s:
            return
        current = start_s // 3600 if hour is None else hour
        last = (end_s - 1) // 3600
        while current <= last:
            sales_hour = self.hour_ctx(current)
            if sales_hour.n:
                if current * 3600 >= start_s and (current + 1) * 3600 <= end_s:
                    for index in range(slot, sales_hour.n):
                        record, _, kind = self.slot(sales_hour, index)
                        yield current, index, record, kind
                else:
                    first = self._first_slot_at_or_after(sales_hour, start_s)
                    past_end = self._first_slot_at_or_after(sales_hour, end_s)
                    # A repeat carries its original's earlier instant: look that far past the end.
                    stop = min(sales_hour.n, past_end + self._max_repeat_distance)
                    for index in range(max(slot, first), stop):
                        record, instant, kind = self.slot(sales_hour, index)
                        if start_s <= instant < end_s:
                            yield current, index, record, kind
            current += 1
            slot = 0

    def page(
        self, start_s: int, end_s: int, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None, int]:
        """(records, next_cursor, hour of the page's first slot)."""
        filters_tag = mix(start_s, end_s, 0x5A1E5) & 0xFFFFFFFF  # a cursor only works for its own filters
        hour, slot = None, 0
        if cursor is not None:
            position = decode_cursor(cursor)
            if len(position) != 4 or position[0] != "s" or not all(isinstance(part, int) for part in position[1:]):
                raise BadRequest("invalid cursor")
            if position[1] != filters_tag:
                raise BadRequest("cursor was issued for other start/end filters")
            hour, slot = position[2], position[3]
            if not (start_s // 3600 <= hour <= (end_s - 1) // 3600) or slot < 0:
                raise BadRequest("invalid cursor")
        records: list[dict[str, Any]] = []
        page_hour = hour if hour is not None else start_s // 3600
        for record_hour, record_slot, record, _ in self.iter_window(start_s, end_s, hour, slot):
            if len(records) == limit:
                return records, encode_cursor(["s", filters_tag, record_hour, record_slot]), page_hour
            records.append(record)
        return records, None, page_hour

    # ------------------------------------------------------------------ truth
    def mapping(self) -> dict[str, str | None]:
        if self._mapping is None:
            self._mapping = self.world.camera_mapping()
        return self._mapping

    def truth(self, start: datetime, end: datetime) -> SalesTruth:
        start_s = -(-to_epoch_us(start) // 1_000_000)
        end_s = -(-to_epoch_us(end) // 1_000_000)
        mapping = self.mapping()
        verkada_ids = self.world.verkada_ids()
        valid: dict[str, TruthSale] = {}
        rejected: list[TruthRejection] = []
        duplicates = 0
        for _, _, record, _ in self.iter_window(start_s, end_s):
            try:
                sale = rules.validate("sales", record, self.zone)
            except rules.FieldError as e:
                rejected.append(TruthRejection(raw=record, field=e.field, reason=e.reason))
                continue
            camera_id = sale["camera_id"]
            verkada_id = mapping.get(camera_id, camera_id if camera_id in verkada_ids else None)
            instant = sale["transaction_date"]
            transaction_id = sale["transaction_id"]
            duplicates += transaction_id in valid
            valid.pop(transaction_id, None)  # the last one wins
            valid[transaction_id] = TruthSale(
                transaction_id,
                instant,
                to_epoch_us(instant) // 1000,
                sale["transaction_amount"],
                sale["item_id"],
                camera_id,
                verkada_id,
            )
        return SalesTruth(valid, rejected, duplicates)


def _utc_offset_s(zone: tzinfo, epoch_s: int) -> int:
    offset = datetime.fromtimestamp(epoch_s, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _kind_thresholds(config: SandboxConfig) -> list[tuple[int, int]]:
    """(threshold, kind) pairs on the low 32 bits of kind_bits: the rates stacked in order."""
    stacked, thresholds = 0.0, []
    for kind, rate in (
        (DUP, config.duplicate_rate),
        (MISSING, config.missing_field_rate),
        (NULL, config.null_field_rate),
        (WRONG, config.wrong_kind_rate),
        (ZERO, config.zero_amount_rate),
        (UNKNOWN_CAM, config.unknown_camera_rate),
        (REFUND, config.refund_rate),
    ):
        if rate > 0:
            stacked += rate
            thresholds.append((_threshold(stacked), kind))
    return thresholds


def _break_record(record: dict[str, Any], kind: int, variant: int) -> None:
    """Make the record invalid the way its kind says."""
    if kind == MISSING:
        del record[SALE_FIELDS[variant % 5]]
    elif kind == NULL:
        record[SALE_FIELDS[variant % 5]] = None
    elif kind == WRONG:
        name, value = WRONG_VARIANTS[variant % len(WRONG_VARIANTS)]
        record[name] = value
    elif kind == ZERO:
        record["transaction_amount"] = "0.00" if isinstance(record["transaction_amount"], str) else 0
