"""Event bodies as Helix wants them: attribute values coerced to their schema types.

Numbers go out as JSON numbers, never strings (Helix answers "Wrong type for field"
otherwise); strings are cut to 200 characters. A value that cannot be valid raises
ValueError with the reason, so the event is skipped without a request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from jd_helix.clients.verkada.events import HelixEvent
from jd_helix.clients.verkada.limits import MAX_VALUE_CHARS


def coerce_value(value: Any, declared: str | None) -> Any:
    """One attribute value as Helix wants it, or raise ValueError with the reason.

    With a declared schema type the value is converted to it (e.g. "12.50" for a float
    attribute becomes 12.5); without one, its Python type decides.
    """
    if isinstance(value, Decimal):
        value = float(value) if value != value.to_integral_value() or declared == "float" else int(value)
    if declared == "string" or (declared is None and isinstance(value, str)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        text = value if isinstance(value, str) else str(value)
        return text[:MAX_VALUE_CHARS]
    if declared == "boolean" or (declared is None and isinstance(value, bool)):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(f"not a boolean: {value!r}")
    if declared in ("integer", "float") or (declared is None and isinstance(value, (int, float))):
        return _number(value, declared)
    raise ValueError(f"unsupported attribute type {type(value).__name__}")


def _number(value: Any, declared: str | None) -> float | int:
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    number: float | int
    if isinstance(value, str):
        try:
            number = int(value) if declared == "integer" else float(value)
        except ValueError:
            raise ValueError(f"not a number: {value[:50]!r}") from None
    elif isinstance(value, (int, float)):
        number = value
    else:
        raise ValueError(f"not a number: {type(value).__name__}")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    if declared == "integer":
        if isinstance(number, float):
            if not number.is_integer():
                raise ValueError(f"not an integer: {value!r}")
            number = int(number)
    elif declared == "float":
        number = float(number)
    return number


def event_body(event: HelixEvent, schema: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON body Helix wants for ``event``; raises ValueError if it cannot be valid.

    ``None`` attribute values are left out (Helix accepts a subset of the schema).
    """
    if isinstance(event.time_ms, bool) or not isinstance(event.time_ms, int):
        raise ValueError(f"time_ms must be an integer of epoch milliseconds, got {event.time_ms!r}")
    if not event.camera_id or not event.event_type_uid:
        raise ValueError("camera_id and event_type_uid are required")
    attributes: dict[str, Any] = {}
    for name, value in (event.attributes or {}).items():
        if value is None:
            continue
        declared = schema.get(name) if schema else None
        try:
            attributes[name] = coerce_value(value, declared)
        except ValueError as exc:
            raise ValueError(f"attribute {name!r}: {exc}") from None
    return {
        "camera_id": event.camera_id,
        "event_type_uid": event.event_type_uid,
        "time_ms": event.time_ms,
        "attributes": attributes,
    }
