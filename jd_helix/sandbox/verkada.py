"""The Verkada side of the sandbox: token, camera list, footage link and Helix
(event types, events, search, batch), per specs/verkada-helix-api.md section 8.

All state lives in one `HelixState` guarded by one lock. Batch jobs are applied lazily:
whenever the state is touched, every job whose `batch_delay_s` has passed is applied.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from datetime import datetime
from typing import Any, Callable
from urllib.parse import quote

import orjson

from jd_helix.sandbox.clock import SandboxClock
from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.faults import Faults
from jd_helix.sandbox.hashing import det_uuid, str_key
from jd_helix.sandbox.reply import Reply, verkada_error
from jd_helix.sandbox.world import World

SCHEMA_TYPES = ("string", "integer", "float", "boolean")
MAX_STR = 200
EVENT_BASE = "/cameras/v1/video_tagging/event"
TYPE_PATH = "/cameras/v1/video_tagging/event_type"


class _Invalid(Exception):
    pass


def _int_param(q: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise _Invalid(f"{name} must be an integer") from None
    if not lo <= v <= hi:
        raise _Invalid(f"{name} must be between {lo} and {hi}")
    return v


class HelixState:
    """The Verkada API's state and handlers.

    What it needs from the rest of the sandbox is passed in: the config, the world (org and
    cameras), the clock (event age, token lifetime), the faults (a token lifetime set while
    running) and where the sandbox is served (the failure files' URL, known once it listens).
    """

    def __init__(self, config: SandboxConfig, world: World, clock: SandboxClock, faults: Faults,
                 base_url: Callable[[], str]):
        self.cfg = config
        self.clock = clock
        self.faults = faults
        self.base_url = base_url
        self.org_id = world.org_id
        self.cameras = world.verkada_cameras
        self.camera_ids = {c["camera_id"] for c in self.cameras}
        self.lock = threading.RLock()
        self.tokens: dict[str, tuple[float, float]] = {}  # token -> (sandbox clock s, monotonic s) at issue
        self.event_types: dict[str, dict[str, Any]] = {}
        self.events: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.writes: list[dict[str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self._pending_jobs: list[str] = []
        self._type_seq = 0
        self._job_seq = 0
        self._sorted_cache: tuple[int, list] | None = None
        self._version = 0

    # ------------------------------------------------------------------ helpers
    def now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    def token_ttl(self) -> float:
        t = self.faults.token_ttl_s
        return self.cfg.token_ttl_s if t is None else t

    def _log(self, key: tuple[str, str, int], attributes: dict, via: str, replaced: dict | None, flagged: bool) -> None:
        self.writes.append({"camera_id": key[0], "event_type_uid": key[1], "time_ms": key[2],
                            "attributes": copy.deepcopy(attributes), "flagged": flagged, "via": via,
                            "replaced_attributes": copy.deepcopy(replaced), "at": self.clock.now()})
        self._version += 1

    def advance_jobs(self) -> None:
        """Apply every batch job whose delay has passed."""
        with self.lock:
            if not self._pending_jobs:
                return
            now = time.monotonic()
            still = []
            for jid in self._pending_jobs:
                job = self.jobs[jid]
                if now - job["created"] >= self.cfg.batch_delay_s:
                    self._apply_job(job)
                else:
                    still.append(jid)
            self._pending_jobs = still

    def _apply_job(self, job: dict[str, Any]) -> None:
        failures = []
        for idx, item in enumerate(job["items"]):
            try:
                key, attrs, flagged = self._validate_event(item)
            except _Invalid as e:
                failures.append({"index": idx, "error": str(e), "item": item})
                continue
            self._upsert(key, attrs, flagged, "batch")
        job["failures"] = failures
        job["status"] = "failed" if failures and len(failures) == len(job["items"]) else "completed"
        job["items"] = None

    def _upsert(self, key, attrs, flagged, via) -> None:
        old = self.events.get(key)
        self.events[key] = {"attributes": attrs, "flagged": flagged}
        self._log(key, attrs, via, old["attributes"] if old is not None else None, flagged)

    # ---------------------------------------------------------------- validation
    def _check_attrs(self, attrs: Any, schema: dict[str, str]) -> dict[str, Any]:
        if attrs is None:
            return {}
        if not isinstance(attrs, dict):
            raise _Invalid("attributes must be an object")
        out = {}
        for k, v in attrs.items():
            t = schema.get(k)
            if t is None:
                raise _Invalid(f"Attribute {k!r} is not in the event type's schema")
            ok = ((t == "string" and isinstance(v, str))
                  or (t == "integer" and isinstance(v, int) and not isinstance(v, bool))
                  or (t == "float" and isinstance(v, (int, float)) and not isinstance(v, bool))
                  or (t == "boolean" and isinstance(v, bool)))
            if not ok:
                raise _Invalid(f"Wrong type for field {k}: expected {t}")
            out[k] = v[:MAX_STR] if isinstance(v, str) else v
        return out

    def _check_time(self, t: Any) -> int:
        if isinstance(t, bool) or not isinstance(t, int):
            raise _Invalid("time_ms must be an integer (epoch milliseconds)")
        now = self.now_ms()
        if t < now - int(self.cfg.max_event_age_days * 86_400_000):
            raise _Invalid(f"time_ms is older than {self.cfg.max_event_age_days:g} days")
        if t > now + int(self.cfg.max_future_s * 1000):
            raise _Invalid(f"time_ms is more than {self.cfg.max_future_s:g} seconds in the future")
        return t

    def _check_key(self, camera_id: Any, type_uid: Any) -> None:
        if not isinstance(camera_id, str) or camera_id not in self.camera_ids:
            raise _Invalid(f"Invalid camera_id {camera_id!r}: no such camera in this organization")
        if not isinstance(type_uid, str) or type_uid not in self.event_types:
            raise _Invalid(f"Invalid event_type_uid {type_uid!r}: no such event type")

    def _validate_event(self, body: Any) -> tuple[tuple[str, str, int], dict, bool]:
        if not isinstance(body, dict):
            raise _Invalid("event must be a JSON object")
        for f in ("camera_id", "event_type_uid", "time_ms"):
            if f not in body:
                raise _Invalid(f"{f} is required")
        self._check_key(body["camera_id"], body["event_type_uid"])
        t = self._check_time(body["time_ms"])
        schema = self.event_types[body["event_type_uid"]]["event_schema"]
        attrs = self._check_attrs(body.get("attributes"), schema)
        flagged = body.get("flagged", False)
        if not isinstance(flagged, bool):
            raise _Invalid("flagged must be a boolean")
        return (body["camera_id"], body["event_type_uid"], t), attrs, flagged

    def _key_from_query(self, q: dict[str, str]) -> tuple[str, str, int]:
        for f in ("camera_id", "event_type_uid", "time_ms"):
            if not q.get(f):
                raise _Invalid(f"query parameter {f} is required")
        try:
            t = int(q["time_ms"])
        except ValueError:
            raise _Invalid("time_ms must be an integer (epoch milliseconds)") from None
        return q["camera_id"], q["event_type_uid"], t

    # ------------------------------------------------------------------ routing
    def handle(self, method: str, path: str, q: dict[str, str], headers, body: bytes) -> tuple[str, Callable[[], Reply]]:
        """(endpoint label, thunk producing the reply). The label is known before auth."""
        if path == "/token":
            return "token", (lambda: self.token(headers)) if method == "POST" else self._method_not_allowed
        if path == "/cameras/v1/devices":
            return "devices", self._authed(headers, method, "GET", lambda: self.devices(q))
        if path == "/cameras/v1/footage/link":
            return "footage/link", self._authed(headers, method, "GET", lambda: self.footage_link(q))
        if path == TYPE_PATH:
            return "event_type", self._authed(headers, method, None, lambda: self.event_type(method, q, body))
        if path == EVENT_BASE:
            return "event", self._authed(headers, method, None, lambda: self.event(method, q, body))
        if path == EVENT_BASE + "/search":
            return "event/search", self._authed(headers, method, "POST", lambda: self.search(q, body))
        if path == EVENT_BASE + "/batch":
            return "event/batch", self._authed(headers, method, "POST", lambda: self.batch_create(body), batch=True)
        if path.startswith(EVENT_BASE + "/batch/"):
            jid = path[len(EVENT_BASE + "/batch/"):]
            return "event/batch/status", self._authed(headers, method, "GET", lambda: self.batch_status(jid), batch=True)
        return "unknown", lambda: verkada_error(404, f"No such endpoint: {method} {path}")

    @staticmethod
    def _method_not_allowed() -> Reply:
        return verkada_error(405, "Method not allowed")

    def _authed(self, headers, method: str, want: str | None, fn: Callable[[], Reply], batch: bool = False):
        def run() -> Reply:
            err = self.check_token(headers.get("x-verkada-auth"))
            if err is not None:
                return err
            if batch and self.cfg.batch_mode != "enabled":
                code = int(self.cfg.batch_mode)
                return verkada_error(code, "Insufficient permissions" if code == 403 else "Not found")
            if want is not None and method != want:
                return verkada_error(405, "Method not allowed")
            try:
                self.advance_jobs()
                with self.lock:
                    return fn()
            except _Invalid as e:
                return verkada_error(400, str(e))
        return run

    # -------------------------------------------------------------------- token
    def token(self, headers) -> Reply:
        key = headers.get("x-api-key")
        if not key or not secrets.compare_digest(key.encode(), self.cfg.verkada_api_key.encode()):
            return verkada_error(401, "Invalid API key")
        tok = "v2_" + secrets.token_hex(24)
        with self.lock:
            self.tokens[tok] = (self.clock.now().timestamp(), time.monotonic())
        return Reply(200, {"token": tok})

    def check_token(self, tok: str | None) -> Reply | None:
        if not tok:
            return verkada_error(401, "Missing x-verkada-auth token")
        with self.lock:
            issued = self.tokens.get(tok)
        if issued is None:
            return verkada_error(401, "Invalid token")
        ttl = self.token_ttl()
        if (time.monotonic() - issued[1] >= ttl) or (self.clock.now().timestamp() - issued[0] >= ttl):
            return verkada_error(401, "Token expired", err_id="0e2d")
        return None

    # ------------------------------------------------------------------ cameras
    def devices(self, q: dict[str, str]) -> Reply:
        size = _int_param(q, "page_size", 100, 1, 200)
        start = self._page_token(q.get("page_token"), len(self.cameras))
        page = self.cameras[start:start + size]
        nxt = str(start + size) if start + size < len(self.cameras) else None
        return Reply(200, {"cameras": page, "next_page_token": nxt})

    @staticmethod
    def _page_token(tok: Any, total: int) -> int:
        if tok is None or tok == "":
            return 0
        try:
            v = int(tok)
        except (TypeError, ValueError):
            raise _Invalid("invalid page_token") from None
        if not 0 <= v <= total:
            raise _Invalid("invalid page_token")
        return v

    def footage_link(self, q: dict[str, str]) -> Reply:
        cid = q.get("camera_id")
        if not cid or cid not in self.camera_ids:
            raise _Invalid(f"Invalid camera_id {cid!r}")
        ts = q.get("timestamp")
        if ts:
            try:
                sec = int(ts)
            except ValueError:
                try:
                    sec = int(datetime.fromisoformat(ts).timestamp())
                except ValueError:
                    raise _Invalid("timestamp must be Unix seconds or ISO 8601") from None
            url = f"https://command.verkada.com/cameras/{cid}/history/{sec * 1000}?org={self.org_id}"
        else:
            url = f"https://command.verkada.com/cameras/{cid}?org={self.org_id}"
        return Reply(200, {"url": url})

    # -------------------------------------------------------------- event types
    def _event_type_obj(self, uid: str) -> dict[str, Any]:
        t = self.event_types[uid]
        return {"event_type_uid": uid, "name": t["name"], "event_schema": dict(t["event_schema"]),
                "org_id": self.org_id}

    @staticmethod
    def _check_schema(schema: Any) -> dict[str, str]:
        if not isinstance(schema, dict):
            raise _Invalid("event_schema must be an object of attribute name -> type")
        for k, v in schema.items():
            if v not in SCHEMA_TYPES:
                raise _Invalid(f"Invalid type {v!r} for attribute {k!r}: one of {', '.join(SCHEMA_TYPES)}")
        return dict(schema)

    def event_type(self, method: str, q: dict[str, str], body: bytes) -> Reply:
        if method == "GET":
            uids = list(self.event_types)
            if q.get("event_type_uid"):
                uids = [u for u in uids if u == q["event_type_uid"]]
            if q.get("name"):
                uids = [u for u in uids if self.event_types[u]["name"] == q["name"]]
            return Reply(200, {"event_types": [self._event_type_obj(u) for u in uids]})
        if method == "POST":
            b = _json_body(body)
            name = b.get("name")
            if not isinstance(name, str) or not name.strip():
                raise _Invalid("name is required")
            schema = self._check_schema(b.get("event_schema", {}))
            if any(t["name"] == name for t in self.event_types.values()):
                raise _Invalid(f"An event type named {name!r} already exists")
            self._type_seq += 1
            uid = det_uuid(self.cfg.seed, str_key("event_type"), self._type_seq)
            self.event_types[uid] = {"name": name, "event_schema": schema}
            return Reply(200, self._event_type_obj(uid), wrote=True)
        uid = q.get("event_type_uid")
        if not uid:
            raise _Invalid("query parameter event_type_uid is required")
        if uid not in self.event_types:
            return verkada_error(404, f"No event type {uid!r}")
        if method == "PATCH":
            b = _json_body(body)
            if "name" in b:
                name = b["name"]
                if not isinstance(name, str) or not name.strip():
                    raise _Invalid("name must be a non-empty string")
                if any(t["name"] == name and u != uid for u, t in self.event_types.items()):
                    raise _Invalid(f"An event type named {name!r} already exists")
            schema = self._check_schema(b["event_schema"]) if "event_schema" in b else None
            if "name" in b:
                self.event_types[uid]["name"] = b["name"]
            if schema is not None:
                self.event_types[uid]["event_schema"] = schema
            return Reply(200, {}, wrote=True)
        if method == "DELETE":
            del self.event_types[uid]
            for k in [k for k in self.events if k[1] == uid]:
                del self.events[k]
            self._version += 1
            return Reply(200, {}, wrote=True)
        return verkada_error(405, "Method not allowed")

    # ------------------------------------------------------------------- events
    def event(self, method: str, q: dict[str, str], body: bytes) -> Reply:
        if method == "POST":
            key, attrs, flagged = self._validate_event(_json_body(body))
            self._upsert(key, attrs, flagged, "single")
            return Reply(200, {}, wrote=True)
        key = self._key_from_query(q)
        ev = self.events.get(key)
        if ev is None:
            return verkada_error(404, "Event not found")
        if method == "GET":
            return Reply(200, self._event_obj(key, ev))
        if method == "PATCH":
            b = _json_body(body)
            schema = self.event_types[key[1]]["event_schema"]
            add = self._check_attrs(b.get("attributes"), schema)
            flagged = b.get("flagged", ev["flagged"])
            if not isinstance(flagged, bool):
                raise _Invalid("flagged must be a boolean")
            old = ev["attributes"]
            new = {**old, **add}
            self.events[key] = {"attributes": new, "flagged": flagged}
            self._log(key, new, "patch", old, flagged)
            return Reply(200, {}, wrote=True)
        if method == "DELETE":
            del self.events[key]
            self._version += 1
            return Reply(200, {}, wrote=True)
        return verkada_error(405, "Method not allowed")

    def _event_obj(self, key, ev) -> dict[str, Any]:
        return {"attributes": dict(ev["attributes"]), "camera_id": key[0], "event_type_uid": key[1],
                "flagged": ev["flagged"], "org_id": self.org_id, "time_ms": key[2]}

    def _sorted_keys(self) -> list:
        if self._sorted_cache is None or self._sorted_cache[0] != self._version:
            self._sorted_cache = (self._version, sorted(self.events, key=lambda k: (k[2], k[0], k[1])))
        return self._sorted_cache[1]

    def search(self, q: dict[str, str], body: bytes) -> Reply:
        b = _json_body(body) if body.strip() else {}
        size = _int_param(q, "page_size", b.get("page_size", 100) if isinstance(b.get("page_size", 100), int) else 100, 1, 200)
        tok = q.get("page_token") or b.get("page_token")
        cams = b.get("camera_ids")
        if cams is not None and not (isinstance(cams, list) and all(isinstance(c, str) for c in cams)):
            raise _Invalid("camera_ids must be a list of strings")
        cams = set(cams) if cams else None
        tuid = b.get("event_type_uid")
        st, en = b.get("start_time_ms"), b.get("end_time_ms")
        for name, v in (("start_time_ms", st), ("end_time_ms", en)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise _Invalid(f"{name} must be an integer")
        filters = b.get("attribute_filters") or []
        if not isinstance(filters, list):
            raise _Invalid("attribute_filters must be a list")
        for f in filters:
            if not isinstance(f, dict) or "attribute_key" not in f or f.get("op", "eq") not in ("eq", "gt", "lt"):
                raise _Invalid("each attribute filter needs attribute_key, attribute_value and op eq|gt|lt")
        kws = [str(k).casefold() for k in (b.get("keywords") or [])]
        flagged = b.get("flagged")
        out = []
        for key in self._sorted_keys():
            cid, uid, t = key
            if cams is not None and cid not in cams:
                continue
            if tuid and uid != tuid:
                continue
            if st is not None and t < st:
                continue
            if en is not None and t >= en:
                continue
            ev = self.events[key]
            if flagged is not None and ev["flagged"] != flagged:
                continue
            attrs = ev["attributes"]
            if filters and not all(_attr_match(attrs, f) for f in filters):
                continue
            if kws:
                text = " ".join(str(v) for v in attrs.values()).casefold()
                if not all(k in text for k in kws):
                    continue
            out.append(key)
        start = self._page_token(tok, len(out))
        page = [self._event_obj(k, self.events[k]) for k in out[start:start + size]]
        nxt = start + size if start + size < len(out) else None
        return Reply(200, {"events": page, "next_token": nxt,
                           "next_page_token": str(nxt) if nxt is not None else None})

    # -------------------------------------------------------------------- batch
    def batch_create(self, body: bytes) -> Reply:
        b = _json_body(body)
        items = b.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= 1000:
            raise _Invalid("items must be a list of 1 to 1000 events")
        self._job_seq += 1
        jid = det_uuid(self.cfg.seed, str_key("job"), self._job_seq)
        self.jobs[jid] = {"job_id": jid, "status": "pending", "total_items": len(items),
                          "items": orjson.loads(orjson.dumps(items)), "created": time.monotonic(), "failures": None}
        self._pending_jobs.append(jid)
        if self.cfg.batch_delay_s <= 0:
            self.advance_jobs()
        return Reply(202, {"job_id": jid}, wrote=True)

    def batch_status(self, jid: str) -> Reply:
        job = self.jobs.get(jid)
        if job is None:
            return verkada_error(404, f"No batch job {jid!r}")
        status = job["status"]
        if status == "pending" and time.monotonic() - job["created"] >= self.cfg.batch_delay_s / 2:
            status = "processing"
        failed = len(job["failures"]) if job["failures"] is not None else 0
        url = f"{self.base_url()}/_sandbox/batch/{quote(jid)}/failures.json" if failed else None
        return Reply(200, {"job_id": jid, "status": status, "total_items": job["total_items"],
                           "failed_items": failed, "failure_file_url": url})

    def failure_file(self, jid: str) -> Reply:
        self.advance_jobs()
        with self.lock:
            job = self.jobs.get(jid)
            if job is None or job["failures"] is None:
                return verkada_error(404, "No such failure file")
            return Reply(200, job["failures"])

    # --------------------------------------------------------------- inspection
    def snapshot_events(self) -> list[dict[str, Any]]:
        self.advance_jobs()
        with self.lock:
            return [{"camera_id": k[0], "event_type_uid": k[1], "time_ms": k[2],
                     "attributes": copy.deepcopy(v["attributes"]), "flagged": v["flagged"]}
                    for k, v in ((k, self.events[k]) for k in self._sorted_keys())]

    def snapshot_event_types(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._event_type_obj(uid) for uid in self.event_types]

    def snapshot_writes(self) -> list[dict[str, Any]]:
        self.advance_jobs()
        with self.lock:
            return copy.deepcopy(self.writes)


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        b = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise _Invalid("request body is not valid JSON") from None
    if not isinstance(b, dict):
        raise _Invalid("request body must be a JSON object")
    return b


def _attr_match(attrs: dict[str, Any], f: dict[str, Any]) -> bool:
    k = f["attribute_key"]
    if k not in attrs:
        return False
    a, v, op = attrs[k], f.get("attribute_value"), f.get("op", "eq")
    if op == "eq":
        return a == v or str(a) == str(v)
    try:
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            v = float(v)
        return a > v if op == "gt" else a < v
    except (TypeError, ValueError):
        return False
