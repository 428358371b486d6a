"""The JD dimension pages as served: the world's clean records with the oddities of real
data added, driven by the config's dimension rates. Some oddities are still valid records
(an id sent as a string, a price as text, an extra field, a later repeat that wins);
others are invalid records with fresh ids (a required field missing or null, a field of
the wrong kind), which the ground truth must reject.

Every choice is a hash of (seed, endpoint, record index), so the pages never change for
a given config.
"""

from __future__ import annotations

import copy
from typing import Any

from jd_helix.sandbox import rules
from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.hashing import high_bits_unit, low_bits_unit, mix, str_key

EXTRA_FIELDS = [
    ("source_system", "pos-v2"),
    ("sync_batch", 42),
    ("notes", None),
    ("_etag", 'W/"a1b2"'),
    ("region", {"code": "UK-N"}),
]
# A value of the wrong kind for each field kind (see rules.py).
WRONG_KIND_VALUES = {"id": [1, 2], "text": {"en": "?"}, "amount": "abc", "count": "lots"}
REPEAT_SALT = 99
INVALID_SALT = 77


def with_oddities(records: dict[str, list[dict[str, Any]]], config: SandboxConfig) -> dict[str, list[dict[str, Any]]]:
    """Endpoint -> its records as the JD API serves them, oddities included."""
    return {endpoint: _endpoint_page(endpoint, clean, config) for endpoint, clean in records.items()}


def _endpoint_page(endpoint: str, clean: list[dict[str, Any]], config: SandboxConfig) -> list[dict[str, Any]]:
    salt = str_key(endpoint)
    served = [
        _vary_format(dict(record), endpoint, mix(config.seed, salt, index), config)
        for index, record in enumerate(clean)
    ]
    _insert_repeats(served, endpoint, clean, salt, config)
    _insert_invalid_records(served, endpoint, clean, salt, config)
    return served


def _insert_repeats(
    served: list[dict[str, Any]], endpoint: str, clean: list[dict[str, Any]], salt: int, config: SandboxConfig
) -> None:
    """A copy of some records later in the page, sometimes with a changed non-key field
    (the later one wins)."""
    repeats = []
    for index, record in enumerate(clean):
        repeat_bits = mix(config.seed, salt, index, REPEAT_SALT)
        if low_bits_unit(repeat_bits) < config.dimension_duplicate_rate:
            repeat = _changed_copy(record, endpoint)
            position = index + 1 + int(high_bits_unit(repeat_bits) * (len(clean) - index))
            repeats.append((position, _vary_format(repeat, endpoint, mix(repeat_bits, 5), config)))
    # From the last position back, so earlier insertions do not shift later ones.
    for position, repeat in sorted(repeats, key=lambda pair: -pair[0]):
        served.insert(min(position, len(served)), repeat)


def _changed_copy(record: dict[str, Any], endpoint: str) -> dict[str, Any]:
    repeat = dict(record)
    if endpoint == "inventory":
        repeat["item_quantity"] = (repeat["item_quantity"] + 7) % 250
    elif endpoint == "cameras":
        repeat["camera_status"] = "offline" if repeat["camera_status"] == "online" else "online"
    elif endpoint == "stores":
        phone = repeat["store_phone"]
        repeat["store_phone"] = phone[:-1] + str((int(phone[-1]) + 1) % 10)
    return repeat


def _insert_invalid_records(
    served: list[dict[str, Any]], endpoint: str, clean: list[dict[str, Any]], salt: int, config: SandboxConfig
) -> None:
    """Invalid records with fresh ids: a share of the page (rounded up, at least one)."""
    count = 0
    if config.dimension_invalid_rate > 0:
        count = -(-int(config.dimension_invalid_rate * len(clean) * 1000) // 1000) or 1
    kinds = {**rules.REQUIRED_FIELDS[endpoint], **rules.OPTIONAL_FIELDS[endpoint]}
    fields = list(kinds)
    for number in range(count):
        invalid_bits = mix(config.seed, salt, number, INVALID_SALT)
        invalid = dict(clean[number % len(clean)])
        invalid[rules.ID_FIELD[endpoint]] = 90_001 + number if endpoint != "inventory" else 99_001 + number
        if endpoint == "cameras":
            invalid["camera_name"] = f"Decommissioned Camera {number + 1}"
        broken = fields[invalid_bits % len(fields)]
        how = (invalid_bits >> 8) % 3  # 0: missing, 1: null, 2: wrong kind
        if broken not in rules.REQUIRED_FIELDS[endpoint]:
            how = 2  # an optional field may be absent: only a wrong kind makes it invalid
        if how == 0:
            invalid.pop(broken, None)
        elif how == 1:
            invalid[broken] = None
        else:
            invalid[broken] = copy.deepcopy(WRONG_KIND_VALUES[kinds[broken]])
        served.insert(int(low_bits_unit(invalid_bits) * (len(served) + 1)), invalid)


def _vary_format(record: dict[str, Any], endpoint: str, format_bits: int, config: SandboxConfig) -> dict[str, Any]:
    """Valid variants of a record: ids as strings, a price as text, an extra field."""
    if low_bits_unit(format_bits) < config.id_as_string_rate:
        for name, kind in {**rules.REQUIRED_FIELDS[endpoint], **rules.OPTIONAL_FIELDS[endpoint]}.items():
            if kind == "id" and isinstance(record.get(name), int):
                record[name] = str(record[name])
    if endpoint == "inventory" and high_bits_unit(format_bits) < config.amount_as_string_rate:
        price = record["item_price"]
        record["item_price"] = f"{price:.2f}" if isinstance(price, float) else str(price)
    if low_bits_unit(format_bits >> 7) < config.extra_field_rate:
        name, value = EXTRA_FIELDS[(format_bits >> 40) % len(EXTRA_FIELDS)]
        record[name] = value
    return record
