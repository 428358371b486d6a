"""The sandbox's synthetic world: stores, points of sale, JD cameras, items, Verkada cameras.

Small enough to build whole at start. The JD dimension endpoints serve `raw[endpoint]`
(oddities included); `dimension_truth()` says which of those records are valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jd_helix.sandbox import rules
from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.hashing import (
    high_bits_unit,
    low_bits_unit,
    mix,
    seeded_uuid,
    str_key,
)
from jd_helix.sandbox.truth import DimensionTruth, TruthRejection

STORE_PLACES = [
    "Manchester Arndale", "London Oxford Street", "Birmingham Bullring", "Leeds Trinity",
    "Glasgow Buchanan Galleries", "Liverpool ONE", "Bristol Cabot Circus", "Newcastle Eldon Square",
    "Sheffield Meadowhall", "Cardiff St David's", "Edinburgh Princes Street", "Nottingham Victoria Centre",
    "Leicester Highcross", "Belfast Victoria Square", "Southampton WestQuay", "Milton Keynes Centre:MK",
    "Dublin Henry Street", "Westfield Stratford City", "Westfield London", "Bluewater",
    "Lakeside Thurrock", "Trafford Centre", "Gateshead Metrocentre", "Braehead",
    "Cribbs Causeway", "Brent Cross", "Reading Oracle", "Norwich Chapelfield",
    "Aberdeen Union Square", "Derby Derbion", "Hull St Stephen's", "Plymouth Drake Circus",
    "Exeter Princesshay", "Oxford Westgate", "Cambridge Grand Arcade", "Brighton Churchill Square",
    "York Coppergate", "Chester Foregate Street", "Preston Fishergate", "Swansea Quadrant",
]
BRANDS = ["Nike", "adidas", "The North Face", "Puma", "New Balance", "Under Armour", "Lacoste",
          "Berghaus", "McKenzie", "Emporio Armani EA7", "Jordan", "Vans", "Columbia", "Hoka"]
PRODUCTS = ["Air Max 90", "Gazelle", "Tech Fleece Hoodie", "Joggers", "Puffer Jacket", "Crew Socks 3 Pack",
            "Running Shorts", "Backpack", "T-Shirt", "Track Top", "Trainers", "Cap", "Gilet",
            "Sliders", "Leggings", "Football Boots", "Windrunner Jacket", "Bucket Hat"]
UNICODE_PRODUCTS = ["Café Crème Hoodie", "Björk Edition Tee", "Pokémon Tee", "Fußball Trikot",
                    "Niño Tracksuit", "東京 Edition Trainers", "Señorita Slides", "Crème Brûlée Cap",
                    "Žalgiris Jersey", "Ærø Windbreaker"]
PRICES_PENCE = [500, 999, 1200, 1500, 1999, 2000, 2500, 2999, 3500, 3999, 4500, 5000, 5499,
                6000, 6999, 7500, 8999, 10000, 11000, 12999, 15000, 17999, 22000]
EXTRA_FIELDS = [("source_system", "pos-v2"), ("sync_batch", 42), ("notes", None), ("_etag", "W/\"a1b2\""),
                ("region", {"code": "UK-N"})]
CAMERA_MODELS = ["CD42", "CD52", "CD62", "CB52-E", "CM42"]


@dataclass
class JdCamera:
    camera_id: int | str  # int, or the Verkada UUID (str) for "uuid" cameras
    name: str
    pos_id: int
    store_idx: int


@dataclass
class World:
    config: SandboxConfig
    store_names: list[str] = field(default_factory=list)
    jd_cameras: list[JdCamera] = field(default_factory=list)
    item_prices: list[int] = field(default_factory=list)
    verkada_cameras: list[dict[str, Any]] = field(default_factory=list)
    extra_verkada_ids: list[str] = field(default_factory=list)
    raw: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    org_id: str = ""

    # ----------------------------------------------------------------- building
    @classmethod
    def build(cls, cfg: SandboxConfig) -> "World":
        w = cls(config=cfg)
        s = cfg.seed
        w.org_id = seeded_uuid(s, str_key("org"))
        # store names, unique
        seen: dict[str, int] = {}
        for k in range(cfg.stores):
            base = STORE_PLACES[k % len(STORE_PLACES)]
            n = k // len(STORE_PLACES)
            name = base if n == 0 else f"{base} {n + 1}"
            seen[name] = 1
            w.store_names.append(name)
        # cameras (one per point of sale)
        cams = []
        for si in range(cfg.stores):
            for p in range(cfg.pos_per_store):
                pos_id = (101 + si) * 100 + p + 1
                cams.append(JdCamera(camera_id=5000 + len(cams) + 1,
                                     name=f"{w.store_names[si]} Till {p + 1}", pos_id=pos_id, store_idx=si))
        # mapping quirks on a deterministic shuffle of cameras
        order = sorted(range(len(cams)), key=lambda i: mix(s, str_key("quirk"), i))
        n_unm = min(cfg.unmapped_cameras, len(order))
        unmapped = set(order[:n_unm])
        n_amb = min(cfg.ambiguous_camera_names, len(order) - n_unm)
        ambiguous = set(order[n_unm:n_unm + n_amb])
        n_uuid = min(cfg.uuid_camera_ids, len(order) - n_unm - n_amb)
        uuid_cams = set(order[n_unm + n_amb:n_unm + n_amb + n_uuid])
        vcams: list[dict[str, Any]] = []

        def vcam(idx_key: int, name: str, store_idx: int | None) -> dict[str, Any]:
            hh = mix(s, str_key("vcam"), idx_key)
            cid = seeded_uuid(s, str_key("vcam-id"), idx_key)
            serial = f"{'ABCDEFGHJK'[hh % 10]}{(hh >> 8) % 10000:04d}-{(hh >> 24) % 10000:04d}"
            site = w.store_names[store_idx] if store_idx is not None else "Head Office"
            return {
                "camera_id": cid, "name": name, "site": site,
                "site_id": seeded_uuid(s, str_key("site"), store_idx if store_idx is not None else -1),
                "serial": serial, "mac": ":".join(f"{(hh >> (8 * b)) & 0xFF:02x}" for b in range(6)),
                "model": CAMERA_MODELS[(hh >> 40) % len(CAMERA_MODELS)],
                "local_ip": f"10.{(store_idx or 0) % 250}.{(hh >> 16) % 250}.{(hh >> 32) % 250 + 2}",
                "location": f"{site}, United Kingdom",
                "location_lat": round(50 + low_bits_unit(hh) * 7, 6), "location_lon": round(-5 + high_bits_unit(hh) * 6, 6),
                "location_angle": float((hh >> 12) % 360), "timezone": "Europe/London",
                "status": "live" if (hh >> 50) % 20 else "offline",
                "last_online": 1_700_000_000 + (hh >> 20) % 10_000_000,
                "date_added": 1_600_000_000 + (hh >> 30) % 50_000_000,
                "firmware": "up to date", "firmware_update_schedule": "Automatic",
                "device_retention": 30, "cloud_retention": 30,
                "people_history_enabled": bool((hh >> 3) & 1), "vehicle_history_enabled": False,
            }

        normal = [i for i in order if i not in unmapped and i not in ambiguous and i not in uuid_cams]
        forced_case = normal[0] if normal and cfg.case_mismatch_rate > 0 else None
        for i, c in enumerate(cams):
            if i in unmapped:
                continue
            hh = mix(s, str_key("case"), i)
            name = c.name
            if i in uuid_cams:
                v = vcam(i, f"Camera {i:03d}-{hh % 9000 + 1000}", c.store_idx)
                c.camera_id = v["camera_id"]
                vcams.append(v)
                continue
            if low_bits_unit(hh) < cfg.case_mismatch_rate or i == forced_case:
                name = name.upper() if (hh >> 40) & 1 else name.lower()
            vcams.append(vcam(i, name, c.store_idx))
            if i in ambiguous:
                vcams.append(vcam(100_000 + i, c.name, c.store_idx))
        for e in range(cfg.extra_verkada_cameras):
            si = e % cfg.stores
            v = vcam(200_000 + e, f"{w.store_names[si]} Entrance {e // cfg.stores + 1}", si)
            w.extra_verkada_ids.append(v["camera_id"])
            vcams.append(v)
        vcams.sort(key=lambda v: v["camera_id"])
        w.verkada_cameras = vcams
        w.jd_cameras = cams
        # items
        for j in range(cfg.items):
            w.item_prices.append(PRICES_PENCE[mix(s, str_key("price"), j) % len(PRICES_PENCE)])
        w._build_raw()
        return w

    def item_name(self, j: int) -> str:
        hh = mix(self.config.seed, str_key("item"), j)
        if hh % 12 == 0:
            prod = UNICODE_PRODUCTS[(hh >> 8) % len(UNICODE_PRODUCTS)]
        else:
            prod = PRODUCTS[(hh >> 8) % len(PRODUCTS)]
        return f"{BRANDS[(hh >> 20) % len(BRANDS)]} {prod}"

    # --------------------------------------------------------- raw dimension pages
    def _entities(self) -> dict[str, list[dict[str, Any]]]:
        cfg = self.config
        stores = []
        for si, name in enumerate(self.store_names):
            sid = 101 + si
            slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20]
            stores.append({
                "store_id": sid, "store_name": f"JD {name}",
                "store_address": f"Unit {si + 1}, {name}, United Kingdom",
                "store_phone": f"+44 161 {mix(cfg.seed, sid) % 900 + 100} {mix(cfg.seed, sid, 1) % 9000 + 1000}",
                "store_email": f"{slug}@jdsports.example",
            })
        pos, cams = [], []
        for c in self.jd_cameras:
            p = c.pos_id % 100
            pos.append({"camera_id": c.camera_id, "pos_id": c.pos_id, "pos_name": f"Till {p}",
                        "store_id": 101 + c.store_idx})
            hh = mix(cfg.seed, str_key("jdcam"), c.pos_id)
            cams.append({"camera_id": c.camera_id, "camera_name": c.name, "camera_location": f"Till {p}",
                         "camera_status": "online" if hh % 15 else "offline",
                         "camera_model": "Verkada " + CAMERA_MODELS[(hh >> 8) % len(CAMERA_MODELS)],
                         "pos_id": c.pos_id})
        items = []
        for j, price in enumerate(self.item_prices):
            items.append({"item_id": 10001 + j, "item_name": self.item_name(j),
                          "item_price": price / 100 if price % 100 else price // 100,
                          "item_quantity": mix(cfg.seed, str_key("qty"), j) % 250})
        return {"stores": stores, "points-of-sale": pos, "cameras": cams, "inventory": items}

    def _build_raw(self) -> None:
        cfg = self.config
        ents = self._entities()
        for ep, recs in ents.items():
            salt = str_key(ep)
            out: list[dict[str, Any]] = []
            for k, rec in enumerate(recs):
                out.append(self._format(dict(rec), ep, mix(cfg.seed, salt, k)))
            # duplicates: a copy later in the list, sometimes with a changed non-key field
            dups = []
            for k, rec in enumerate(recs):
                hh = mix(cfg.seed, salt, k, 99)
                if low_bits_unit(hh) < cfg.dimension_duplicate_rate:
                    copy = dict(rec)
                    if ep == "inventory":
                        copy["item_quantity"] = (copy["item_quantity"] + 7) % 250
                    elif ep == "cameras":
                        copy["camera_status"] = "offline" if copy["camera_status"] == "online" else "online"
                    elif ep == "stores":
                        copy["store_phone"] = copy["store_phone"][:-1] + str((int(copy["store_phone"][-1]) + 1) % 10)
                    pos_at = k + 1 + int(high_bits_unit(hh) * (len(recs) - k))
                    dups.append((pos_at, self._format(copy, ep, mix(hh, 5))))
            for pos_at, d in sorted(dups, key=lambda t: -t[0]):
                out.insert(min(pos_at, len(out)), d)
            # junk: invalid records with fresh ids
            n_bad = 0
            if cfg.dimension_invalid_rate > 0:
                n_bad = -(-int(cfg.dimension_invalid_rate * len(recs) * 1000) // 1000) or 1
            for b in range(n_bad):
                hh = mix(cfg.seed, salt, b, 77)
                junk = dict(recs[b % len(recs)])
                idf = rules.ID_FIELD[ep]
                junk[idf] = 90_001 + b if ep != "inventory" else 99_001 + b
                if ep == "cameras":
                    junk["camera_name"] = f"Decommissioned Camera {b + 1}"
                kinds = {**rules.REQUIRED_FIELDS[ep], **rules.OPTIONAL_FIELDS[ep]}
                fields = list(kinds)
                f = fields[hh % len(fields)]
                how = (hh >> 8) % 3
                if f not in rules.REQUIRED_FIELDS[ep]:
                    how = 2  # an optional field may be absent: only a wrong kind makes it junk
                if how == 0:
                    junk.pop(f, None)
                elif how == 1:
                    junk[f] = None
                else:
                    junk[f] = {"id": [1, 2], "text": {"en": "?"}, "amount": "abc", "count": "lots"}[kinds[f]]
                at = int(low_bits_unit(hh) * (len(out) + 1))
                out.insert(at, junk)
            self.raw[ep] = out

    def _format(self, rec: dict[str, Any], ep: str, hh: int) -> dict[str, Any]:
        cfg = self.config
        if low_bits_unit(hh) < cfg.id_as_string_rate:
            for f, kind in {**rules.REQUIRED_FIELDS[ep], **rules.OPTIONAL_FIELDS[ep]}.items():
                if kind == "id" and isinstance(rec.get(f), int):
                    rec[f] = str(rec[f])
        if ep == "inventory" and high_bits_unit(hh) < cfg.amount_as_string_rate:
            p = rec["item_price"]
            rec["item_price"] = f"{p:.2f}" if isinstance(p, float) else str(p)
        if low_bits_unit(hh >> 7) < cfg.extra_field_rate:
            k, v = EXTRA_FIELDS[(hh >> 40) % len(EXTRA_FIELDS)]
            rec[k] = v
        return rec

    # --------------------------------------------------------------- truth
    def dimension_truth(self, endpoint: str) -> DimensionTruth:
        if endpoint not in self.raw:
            raise KeyError(f"unknown dimension endpoint {endpoint!r}; one of {sorted(self.raw)}")
        tz = rules.zone(self.config.timezone)
        valid: dict[str, dict[str, Any]] = {}
        rejected: list[TruthRejection] = []
        idf = rules.ID_FIELD[endpoint]
        for rec in self.raw[endpoint]:
            try:
                norm = rules.validate(endpoint, rec, tz)
            except rules.FieldError as e:
                rejected.append(TruthRejection(raw=rec, field=e.field, reason=e.reason))
                continue
            norm["raw"] = rec
            valid.pop(norm[idf], None)
            valid[norm[idf]] = norm
        return DimensionTruth(valid=valid, rejected=rejected)

    def camera_mapping(self) -> dict[str, str | None]:
        """JD camera id (str) -> Verkada camera id or None, by the project's mapping rule."""
        by_name: dict[str, list[str]] = {}
        for v in self.verkada_cameras:
            by_name.setdefault(v["name"].strip().lower(), []).append(v["camera_id"])
        vids = {v["camera_id"] for v in self.verkada_cameras}
        out: dict[str, str | None] = {}
        for cid, rec in self.dimension_truth("cameras").valid.items():
            name = rec.get("camera_name")
            hits = by_name.get(name.strip().lower(), []) if name is not None else []
            out[cid] = hits[0] if len(hits) == 1 else (cid if cid in vids else None)
        return out

    def verkada_ids(self) -> set[str]:
        return {v["camera_id"] for v in self.verkada_cameras}
