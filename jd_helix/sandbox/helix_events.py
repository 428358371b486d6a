"""Helix event types and events: the organisation's state, the rules a write must keep,
and the endpoints that read and write them (event_type, event, event/search).

One re-entrant lock (`lock`) guards this state; the Verkada tokens and the batch jobs
share it. Every accepted write is logged in `writes`, for the tests to inspect.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

import orjson

from jd_helix.sandbox.clock import SandboxClock
from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.hashing import seeded_uuid, str_key
from jd_helix.sandbox.reply import Reply, verkada_error
from jd_helix.sandbox.verkada_request import InvalidRequest, int_param, json_body, page_start

SCHEMA_TYPES = ("string", "integer", "float", "boolean")
MAX_STRING_LENGTH = 200  # longer string attributes are cut, as Verkada does
EventKey = tuple[str, str, int]  # (camera_id, event_type_uid, time_ms): one event per key


class HelixEvents:
    def __init__(
        self,
        config: SandboxConfig,
        clock: SandboxClock,
        org_id: str,
        camera_ids: set[str],
        lose_create: Callable[[], bool] = lambda: False,
    ):
        self.config = config
        self.lose_create = lose_create  # the fault that loses an acknowledged create (faults.py)
        self.clock = clock
        self.org_id = org_id
        self.camera_ids = camera_ids
        self.lock = threading.RLock()
        self.event_types: dict[str, dict[str, Any]] = {}
        self.events: dict[EventKey, dict[str, Any]] = {}
        self.writes: list[dict[str, Any]] = []
        self._type_seq = 0
        self._sorted_cache: tuple[int, list[EventKey]] | None = None
        self._search_cache: tuple[tuple[int, bytes], list[EventKey]] | None = None  # the last search's matches
        self._version = 0  # bumped by every change, so the sorted keys are rebuilt only when stale

    # ------------------------------------------------------------------ writing
    def upsert(self, key: EventKey, attributes: dict[str, Any], flagged: bool, via: str) -> None:
        old = self.events.get(key)
        if old is None and self.lose_create():
            self._log_write(key, attributes, via, None, flagged, lost=True)  # acknowledged, never held
            return
        self.events[key] = {"attributes": attributes, "flagged": flagged}
        self._log_write(key, attributes, via, old["attributes"] if old is not None else None, flagged)

    def _log_write(
        self, key: EventKey, attributes: dict, via: str, replaced: dict | None, flagged: bool, lost: bool = False
    ) -> None:
        # Attribute values are scalars (validate_event admits strings, numbers and booleans
        # only), so a flat copy is a deep one: copy.deepcopy cost ~15 us an event of 14
        # attributes, most of a batch job's apply.
        self.writes.append(
            {
                "camera_id": key[0],
                "event_type_uid": key[1],
                "time_ms": key[2],
                "attributes": dict(attributes),
                "flagged": flagged,
                "via": via,
                "replaced_attributes": None if replaced is None else dict(replaced),
                "lost": lost,
                "at": self.clock.now(),
            }
        )
        self._version += 1

    def delete(self, keys: list[EventKey]) -> int:
        """Delete these events, as a person in Command would; returns how many were held."""
        with self.lock:
            deleted = sum(self.events.pop(key, None) is not None for key in keys)
            self._version += 1
            return deleted

    # --------------------------------------------------------------- validation
    def validate_event(self, event: Any) -> tuple[EventKey, dict[str, Any], bool]:
        """(key, attributes as stored, flagged) of a valid event; raises InvalidRequest."""
        if not isinstance(event, dict):
            raise InvalidRequest("event must be a JSON object")
        for name in ("camera_id", "event_type_uid", "time_ms"):
            if name not in event:
                raise InvalidRequest(f"{name} is required")
        self._check_key(event["camera_id"], event["event_type_uid"])
        time_ms = self._check_time(event["time_ms"])
        schema = self.event_types[event["event_type_uid"]]["event_schema"]
        attributes = self._check_attributes(event.get("attributes"), schema)
        flagged = event.get("flagged", False)
        if not isinstance(flagged, bool):
            raise InvalidRequest("flagged must be a boolean")
        return (event["camera_id"], event["event_type_uid"], time_ms), attributes, flagged

    @staticmethod
    def _check_attributes(attributes: Any, schema: dict[str, str]) -> dict[str, Any]:
        if attributes is None:
            return {}
        if not isinstance(attributes, dict):
            raise InvalidRequest("attributes must be an object")
        checked = {}
        for name, value in attributes.items():
            wanted = schema.get(name)
            if wanted is None:
                raise InvalidRequest(f"Attribute {name!r} is not in the event type's schema")
            ok = (
                (wanted == "string" and isinstance(value, str))
                or (wanted == "integer" and isinstance(value, int) and not isinstance(value, bool))
                or (wanted == "float" and isinstance(value, (int, float)) and not isinstance(value, bool))
                or (wanted == "boolean" and isinstance(value, bool))
            )
            if not ok:
                raise InvalidRequest(f"Wrong type for field {name}: expected {wanted}")
            checked[name] = value[:MAX_STRING_LENGTH] if isinstance(value, str) else value
        return checked

    def _check_time(self, time_ms: Any) -> int:
        if isinstance(time_ms, bool) or not isinstance(time_ms, int):
            raise InvalidRequest("time_ms must be an integer (epoch milliseconds)")
        now_ms = int(self.clock.now().timestamp() * 1000)
        if time_ms < now_ms - int(self.config.max_event_age_days * 86_400_000):
            raise InvalidRequest(f"time_ms is older than {self.config.max_event_age_days:g} days")
        if time_ms > now_ms + int(self.config.max_future_s * 1000):
            raise InvalidRequest(f"time_ms is more than {self.config.max_future_s:g} seconds in the future")
        return time_ms

    def _check_key(self, camera_id: Any, type_uid: Any) -> None:
        if not isinstance(camera_id, str) or camera_id not in self.camera_ids:
            raise InvalidRequest(f"Invalid camera_id {camera_id!r}: no such camera in this organization")
        if not isinstance(type_uid, str) or type_uid not in self.event_types:
            raise InvalidRequest(f"Invalid event_type_uid {type_uid!r}: no such event type")

    @staticmethod
    def _check_schema(schema: Any) -> dict[str, str]:
        if not isinstance(schema, dict):
            raise InvalidRequest("event_schema must be an object of attribute name -> type")
        for name, wanted in schema.items():
            if wanted not in SCHEMA_TYPES:
                raise InvalidRequest(
                    f"Invalid type {wanted!r} for attribute {name!r}: one of {', '.join(SCHEMA_TYPES)}"
                )
        return dict(schema)

    # -------------------------------------------------------------- event types
    def _event_type_obj(self, type_uid: str) -> dict[str, Any]:
        event_type = self.event_types[type_uid]
        return {
            "event_type_uid": type_uid,
            "name": event_type["name"],
            "event_schema": dict(event_type["event_schema"]),
            "org_id": self.org_id,
        }

    def event_type(self, method: str, query: dict[str, str], body: bytes) -> Reply:
        if method == "GET":
            type_uids = list(self.event_types)
            if query.get("event_type_uid"):
                type_uids = [uid for uid in type_uids if uid == query["event_type_uid"]]
            if query.get("name"):
                type_uids = [uid for uid in type_uids if self.event_types[uid]["name"] == query["name"]]
            return Reply(200, {"event_types": [self._event_type_obj(uid) for uid in type_uids]})
        if method == "POST":
            return self._create_event_type(json_body(body))
        type_uid = query.get("event_type_uid")
        if not type_uid:
            raise InvalidRequest("query parameter event_type_uid is required")
        if type_uid not in self.event_types:
            return verkada_error(404, f"No event type {type_uid!r}")
        if method == "PATCH":
            return self._update_event_type(type_uid, json_body(body))
        if method == "DELETE":
            del self.event_types[type_uid]
            for key in [key for key in self.events if key[1] == type_uid]:
                del self.events[key]
            self._version += 1
            return Reply(200, {}, wrote=True)
        return verkada_error(405, "Method not allowed")

    def _create_event_type(self, payload: dict[str, Any]) -> Reply:
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InvalidRequest("name is required")
        schema = self._check_schema(payload.get("event_schema", {}))
        if any(event_type["name"] == name for event_type in self.event_types.values()):
            raise InvalidRequest(f"An event type named {name!r} already exists")
        self._type_seq += 1
        type_uid = seeded_uuid(self.config.seed, str_key("event_type"), self._type_seq)
        self.event_types[type_uid] = {"name": name, "event_schema": schema}
        return Reply(200, self._event_type_obj(type_uid), wrote=True)

    def _update_event_type(self, type_uid: str, payload: dict[str, Any]) -> Reply:
        if "name" in payload:
            name = payload["name"]
            if not isinstance(name, str) or not name.strip():
                raise InvalidRequest("name must be a non-empty string")
            if any(event_type["name"] == name and uid != type_uid for uid, event_type in self.event_types.items()):
                raise InvalidRequest(f"An event type named {name!r} already exists")
        schema = self._check_schema(payload["event_schema"]) if "event_schema" in payload else None
        if "name" in payload:
            self.event_types[type_uid]["name"] = payload["name"]
        if schema is not None:
            self.event_types[type_uid]["event_schema"] = schema
        return Reply(200, {}, wrote=True)

    # ------------------------------------------------------------------- events
    def event(self, method: str, query: dict[str, str], body: bytes) -> Reply:
        if method == "POST":
            key, attributes, flagged = self.validate_event(json_body(body))
            self.upsert(key, attributes, flagged, "single")
            return Reply(200, {}, wrote=True)
        key = self._key_from_query(query)
        stored = self.events.get(key)
        if stored is None:
            return verkada_error(404, "Event not found")
        if method == "GET":
            return Reply(200, self._event_obj(key, stored))
        if method == "PATCH":
            payload = json_body(body)
            schema = self.event_types[key[1]]["event_schema"]
            added = self._check_attributes(payload.get("attributes"), schema)
            flagged = payload.get("flagged", stored["flagged"])
            if not isinstance(flagged, bool):
                raise InvalidRequest("flagged must be a boolean")
            old = stored["attributes"]
            new = {**old, **added}
            self.events[key] = {"attributes": new, "flagged": flagged}
            self._log_write(key, new, "patch", old, flagged)
            return Reply(200, {}, wrote=True)
        if method == "DELETE":
            del self.events[key]
            self._version += 1
            return Reply(200, {}, wrote=True)
        return verkada_error(405, "Method not allowed")

    @staticmethod
    def _key_from_query(query: dict[str, str]) -> EventKey:
        for name in ("camera_id", "event_type_uid", "time_ms"):
            if not query.get(name):
                raise InvalidRequest(f"query parameter {name} is required")
        try:
            time_ms = int(query["time_ms"])
        except ValueError:
            raise InvalidRequest("time_ms must be an integer (epoch milliseconds)") from None
        return query["camera_id"], query["event_type_uid"], time_ms

    def _event_obj(self, key: EventKey, stored: dict[str, Any]) -> dict[str, Any]:
        return {
            "attributes": dict(stored["attributes"]),
            "camera_id": key[0],
            "event_type_uid": key[1],
            "flagged": stored["flagged"],
            "org_id": self.org_id,
            "time_ms": key[2],
        }

    def _sorted_keys(self) -> list[EventKey]:
        if self._sorted_cache is None or self._sorted_cache[0] != self._version:
            self._sorted_cache = (self._version, sorted(self.events, key=_by_time_camera_type))
        return self._sorted_cache[1]

    # ------------------------------------------------------------------- search
    def search(self, query: dict[str, str], body: bytes) -> Reply:
        payload = json_body(body) if body.strip() else {}
        body_size = payload.get("page_size", 100)
        size = int_param(query, "page_size", body_size if isinstance(body_size, int) else 100, 1, 200)
        page_token = query.get("page_token") or payload.get("page_token")
        found = self._found(payload)
        start = page_start(page_token, len(found))
        page = [self._event_obj(key, self.events[key]) for key in found[start : start + size]]
        next_start = start + size if start + size < len(found) else None
        return Reply(
            200,
            {
                "events": page,
                "next_token": next_start,
                "next_page_token": str(next_start) if next_start is not None else None,
            },
        )

    def _found(self, payload: dict[str, Any]) -> list[EventKey]:
        """The keys a search body matches, kept for the next page of the same search (until
        the next change): reading an hour of 100,000 events 200 at a time filters it once, not 500 times."""
        filters = {name: value for name, value in payload.items() if name not in ("page_token", "page_size")}
        cache_key = (self._version, orjson.dumps(filters, option=orjson.OPT_SORT_KEYS))
        if self._search_cache is not None and self._search_cache[0] == cache_key:
            return self._search_cache[1]
        matches = _SearchFilter(payload)
        found = [key for key in self._sorted_keys() if matches(key, self.events[key])]
        self._search_cache = (cache_key, found)
        return found

    # --------------------------------------------------------------- inspection
    def snapshot_events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "camera_id": key[0],
                    "event_type_uid": key[1],
                    "time_ms": key[2],
                    "attributes": copy.deepcopy(stored["attributes"]),
                    "flagged": stored["flagged"],
                }
                for key, stored in ((key, self.events[key]) for key in self._sorted_keys())
            ]

    def snapshot_event_types(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._event_type_obj(type_uid) for type_uid in self.event_types]

    def snapshot_writes(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.writes)


def _by_time_camera_type(key: EventKey) -> tuple[int, str, str]:
    camera_id, type_uid, time_ms = key
    return time_ms, camera_id, type_uid


class _SearchFilter:
    """The filters of one event/search body, checked once, then applied to each event."""

    def __init__(self, payload: dict[str, Any]):
        camera_ids = payload.get("camera_ids")
        if camera_ids is not None and not (
            isinstance(camera_ids, list) and all(isinstance(camera_id, str) for camera_id in camera_ids)
        ):
            raise InvalidRequest("camera_ids must be a list of strings")
        self.camera_ids = set(camera_ids) if camera_ids else None
        self.type_uid = payload.get("event_type_uid")
        self.start_ms, self.end_ms = payload.get("start_time_ms"), payload.get("end_time_ms")
        for name, value in (("start_time_ms", self.start_ms), ("end_time_ms", self.end_ms)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidRequest(f"{name} must be an integer")
        self.attribute_filters = payload.get("attribute_filters") or []
        if not isinstance(self.attribute_filters, list):
            raise InvalidRequest("attribute_filters must be a list")
        for attribute_filter in self.attribute_filters:
            if (
                not isinstance(attribute_filter, dict)
                or "attribute_key" not in attribute_filter
                or attribute_filter.get("op", "eq") not in ("eq", "gt", "lt")
            ):
                raise InvalidRequest("each attribute filter needs attribute_key, attribute_value and op eq|gt|lt")
        self.keywords = [str(keyword).casefold() for keyword in (payload.get("keywords") or [])]
        self.flagged = payload.get("flagged")

    def __call__(self, key: EventKey, stored: dict[str, Any]) -> bool:
        camera_id, type_uid, time_ms = key
        if self.camera_ids is not None and camera_id not in self.camera_ids:
            return False
        if self.type_uid and type_uid != self.type_uid:
            return False
        if self.start_ms is not None and time_ms < self.start_ms:
            return False
        if self.end_ms is not None and time_ms >= self.end_ms:
            return False
        if self.flagged is not None and stored["flagged"] != self.flagged:
            return False
        attributes = stored["attributes"]
        if not all(_attribute_matches(attributes, wanted) for wanted in self.attribute_filters):
            return False
        if self.keywords:
            text = " ".join(str(value) for value in attributes.values()).casefold()
            if not all(keyword in text for keyword in self.keywords):
                return False
        return True


def _attribute_matches(attributes: dict[str, Any], attribute_filter: dict[str, Any]) -> bool:
    name = attribute_filter["attribute_key"]
    if name not in attributes:
        return False
    actual, op = attributes[name], attribute_filter.get("op", "eq")
    wanted: Any = attribute_filter.get("attribute_value")
    if op == "eq":
        return actual == wanted or str(actual) == str(wanted)
    try:
        if isinstance(actual, (int, float)) and not isinstance(actual, bool):
            wanted = float(wanted)
        return actual > wanted if op == "gt" else actual < wanted
    except (TypeError, ValueError):
        return False
