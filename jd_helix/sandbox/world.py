"""The sandbox's synthetic world: stores, points of sale, JD cameras, items, Verkada cameras.

Small enough to build whole at start (`World.build`). The JD dimension endpoints serve
`raw[endpoint]` (oddities included, see dimension_oddities.py); `dimension_truth()` says
which of those records are valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jd_helix.sandbox import rules
from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.dimension_oddities import with_oddities
from jd_helix.sandbox.hashing import high_bits_unit, low_bits_unit, mix, seeded_uuid, str_key
from jd_helix.sandbox.truth import DimensionTruth, TruthRejection

STORE_PLACES = [
    "Manchester Arndale",
    "London Oxford Street",
    "Birmingham Bullring",
    "Leeds Trinity",
    "Glasgow Buchanan Galleries",
    "Liverpool ONE",
    "Bristol Cabot Circus",
    "Newcastle Eldon Square",
    "Sheffield Meadowhall",
    "Cardiff St David's",
    "Edinburgh Princes Street",
    "Nottingham Victoria Centre",
    "Leicester Highcross",
    "Belfast Victoria Square",
    "Southampton WestQuay",
    "Milton Keynes Centre:MK",
    "Dublin Henry Street",
    "Westfield Stratford City",
    "Westfield London",
    "Bluewater",
    "Lakeside Thurrock",
    "Trafford Centre",
    "Gateshead Metrocentre",
    "Braehead",
    "Cribbs Causeway",
    "Brent Cross",
    "Reading Oracle",
    "Norwich Chapelfield",
    "Aberdeen Union Square",
    "Derby Derbion",
    "Hull St Stephen's",
    "Plymouth Drake Circus",
    "Exeter Princesshay",
    "Oxford Westgate",
    "Cambridge Grand Arcade",
    "Brighton Churchill Square",
    "York Coppergate",
    "Chester Foregate Street",
    "Preston Fishergate",
    "Swansea Quadrant",
]
BRANDS = [
    "Nike",
    "adidas",
    "The North Face",
    "Puma",
    "New Balance",
    "Under Armour",
    "Lacoste",
    "Berghaus",
    "McKenzie",
    "Emporio Armani EA7",
    "Jordan",
    "Vans",
    "Columbia",
    "Hoka",
]
PRODUCTS = [
    "Air Max 90",
    "Gazelle",
    "Tech Fleece Hoodie",
    "Joggers",
    "Puffer Jacket",
    "Crew Socks 3 Pack",
    "Running Shorts",
    "Backpack",
    "T-Shirt",
    "Track Top",
    "Trainers",
    "Cap",
    "Gilet",
    "Sliders",
    "Leggings",
    "Football Boots",
    "Windrunner Jacket",
    "Bucket Hat",
]
UNICODE_PRODUCTS = [
    "Café Crème Hoodie",
    "Björk Edition Tee",
    "Pokémon Tee",
    "Fußball Trikot",
    "Niño Tracksuit",
    "東京 Edition Trainers",
    "Señorita Slides",
    "Crème Brûlée Cap",
    "Žalgiris Jersey",
    "Ærø Windbreaker",
]
PRICES_PENCE = [
    500,
    999,
    1200,
    1500,
    1999,
    2000,
    2500,
    2999,
    3500,
    3999,
    4500,
    5000,
    5499,
    6000,
    6999,
    7500,
    8999,
    10000,
    11000,
    12999,
    15000,
    17999,
    22000,
]
CAMERA_MODELS = ["CD42", "CD52", "CD62", "CB52-E", "CM42"]


FIRST_STORE_ID = 101
FIRST_CAMERA_ID = 5001
FIRST_ITEM_ID = 10001
# Index offsets that keep the hashes of a camera's second (ambiguous) Verkada twin and of
# the extra (entrance) cameras apart from those of the till cameras.
AMBIGUOUS_TWIN_KEY = 100_000
ENTRANCE_KEY = 200_000


@dataclass
class JdCamera:
    camera_id: int | str  # int, or the Verkada UUID (str) for "uuid" cameras
    name: str
    pos_id: int
    store_idx: int


@dataclass(frozen=True)
class CameraQuirks:
    """Which JD cameras (by index) get a mapping quirk; a camera gets at most one."""

    unmapped: frozenset[int]  # no Verkada camera at all
    ambiguous: frozenset[int]  # two Verkada cameras carry its name
    uuid_ids: frozenset[int]  # JD lists it under its Verkada UUID, with an unrelated Verkada name
    forced_case_mismatch: int | None  # one camera whose case always differs, when the rate is not 0


@dataclass
class World:
    config: SandboxConfig
    org_id: str = ""
    store_names: list[str] = field(default_factory=list)
    jd_cameras: list[JdCamera] = field(default_factory=list)
    item_prices: list[int] = field(default_factory=list)
    verkada_cameras: list[dict[str, Any]] = field(default_factory=list)
    extra_verkada_ids: list[str] = field(default_factory=list)
    raw: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    # ----------------------------------------------------------------- building
    @classmethod
    def build(cls, config: SandboxConfig) -> World:
        seed = config.seed
        world = cls(config=config, org_id=seeded_uuid(seed, str_key("org")))
        world.store_names = _store_names(config.stores)
        world.jd_cameras = world._till_cameras()
        world._add_verkada_cameras(world._pick_camera_quirks())
        world.item_prices = [
            PRICES_PENCE[mix(seed, str_key("price"), item) % len(PRICES_PENCE)] for item in range(config.items)
        ]
        world.raw = with_oddities(world.jd_records(), config)
        return world

    def _till_cameras(self) -> list[JdCamera]:
        """One JD camera over each point of sale."""
        cameras: list[JdCamera] = []
        for store_idx, store_name in enumerate(self.store_names):
            for till in range(1, self.config.pos_per_store + 1):
                cameras.append(
                    JdCamera(
                        camera_id=FIRST_CAMERA_ID + len(cameras),
                        name=f"{store_name} Till {till}",
                        pos_id=(FIRST_STORE_ID + store_idx) * 100 + till,
                        store_idx=store_idx,
                    )
                )
        return cameras

    def _pick_camera_quirks(self) -> CameraQuirks:
        """The first cameras of a seeded shuffle are unmapped, the next ambiguous, then uuid ones."""
        config = self.config
        order = sorted(range(len(self.jd_cameras)), key=lambda index: mix(config.seed, str_key("quirk"), index))
        picked: list[frozenset[int]] = []
        taken = 0
        for wanted in (config.unmapped_cameras, config.ambiguous_camera_names, config.uuid_camera_ids):
            count = min(wanted, len(order) - taken)
            picked.append(frozenset(order[taken : taken + count]))
            taken += count
        unmapped, ambiguous, uuid_ids = picked
        plain = order[taken:]
        return CameraQuirks(
            unmapped,
            ambiguous,
            uuid_ids,
            forced_case_mismatch=plain[0] if plain and config.case_mismatch_rate > 0 else None,
        )

    def _add_verkada_cameras(self, quirks: CameraQuirks) -> None:
        """The Verkada cameras: one per mapped till camera (two for an ambiguous name), plus
        entrance cameras that watch no till; sorted by id as Verkada lists them."""
        cameras = []
        for index, jd_camera in enumerate(self.jd_cameras):
            if index in quirks.unmapped:
                continue
            case_bits = mix(self.config.seed, str_key("case"), index)
            if index in quirks.uuid_ids:
                camera = self._verkada_camera(
                    index, f"Camera {index:03d}-{case_bits % 9000 + 1000}", jd_camera.store_idx
                )
                jd_camera.camera_id = camera["camera_id"]
                cameras.append(camera)
                continue
            name = jd_camera.name
            if low_bits_unit(case_bits) < self.config.case_mismatch_rate or index == quirks.forced_case_mismatch:
                name = name.upper() if (case_bits >> 40) & 1 else name.lower()
            cameras.append(self._verkada_camera(index, name, jd_camera.store_idx))
            if index in quirks.ambiguous:
                cameras.append(self._verkada_camera(AMBIGUOUS_TWIN_KEY + index, jd_camera.name, jd_camera.store_idx))
        for entrance in range(self.config.extra_verkada_cameras):
            store_idx = entrance % self.config.stores
            name = f"{self.store_names[store_idx]} Entrance {entrance // self.config.stores + 1}"
            camera = self._verkada_camera(ENTRANCE_KEY + entrance, name, store_idx)
            self.extra_verkada_ids.append(camera["camera_id"])
            cameras.append(camera)
        cameras.sort(key=lambda camera: camera["camera_id"])
        self.verkada_cameras = cameras

    def _verkada_camera(self, index_key: int, name: str, store_idx: int | None) -> dict[str, Any]:
        """A Verkada camera record; every detail is a slice of one hash of (seed, index_key)."""
        seed = self.config.seed
        bits = mix(seed, str_key("vcam"), index_key)
        site = self.store_names[store_idx] if store_idx is not None else "Head Office"
        return {
            "camera_id": seeded_uuid(seed, str_key("vcam-id"), index_key),
            "name": name,
            "site": site,
            "site_id": seeded_uuid(seed, str_key("site"), store_idx if store_idx is not None else -1),
            "serial": f"{'ABCDEFGHJK'[bits % 10]}{(bits >> 8) % 10000:04d}-{(bits >> 24) % 10000:04d}",
            "mac": ":".join(f"{(bits >> (8 * byte)) & 0xFF:02x}" for byte in range(6)),
            "model": CAMERA_MODELS[(bits >> 40) % len(CAMERA_MODELS)],
            "local_ip": f"10.{(store_idx or 0) % 250}.{(bits >> 16) % 250}.{(bits >> 32) % 250 + 2}",
            "location": f"{site}, United Kingdom",
            "location_lat": round(50 + low_bits_unit(bits) * 7, 6),
            "location_lon": round(-5 + high_bits_unit(bits) * 6, 6),
            "location_angle": float((bits >> 12) % 360),
            "timezone": "Europe/London",
            "status": "live" if (bits >> 50) % 20 else "offline",
            "last_online": 1_700_000_000 + (bits >> 20) % 10_000_000,
            "date_added": 1_600_000_000 + (bits >> 30) % 50_000_000,
            "firmware": "up to date",
            "firmware_update_schedule": "Automatic",
            "device_retention": 30,
            "cloud_retention": 30,
            "people_history_enabled": bool((bits >> 3) & 1),
            "vehicle_history_enabled": False,
        }

    def item_name(self, item: int) -> str:
        bits = mix(self.config.seed, str_key("item"), item)
        products = UNICODE_PRODUCTS if bits % 12 == 0 else PRODUCTS
        return f"{BRANDS[(bits >> 20) % len(BRANDS)]} {products[(bits >> 8) % len(products)]}"

    # -------------------------------------------------------- clean JD records
    def jd_records(self) -> dict[str, list[dict[str, Any]]]:
        """The world as the JD dimension endpoints describe it, before any oddity."""
        seed = self.config.seed
        stores = []
        for store_idx, name in enumerate(self.store_names):
            store_id = FIRST_STORE_ID + store_idx
            slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20]
            stores.append(
                {
                    "store_id": store_id,
                    "store_name": f"JD {name}",
                    "store_address": f"Unit {store_idx + 1}, {name}, United Kingdom",
                    "store_phone": f"+44 161 {mix(seed, store_id) % 900 + 100} {mix(seed, store_id, 1) % 9000 + 1000}",
                    "store_email": f"{slug}@jdsports.example",
                }
            )
        points_of_sale, cameras = [], []
        for camera in self.jd_cameras:
            till = camera.pos_id % 100
            points_of_sale.append(
                {
                    "camera_id": camera.camera_id,
                    "pos_id": camera.pos_id,
                    "pos_name": f"Till {till}",
                    "store_id": FIRST_STORE_ID + camera.store_idx,
                }
            )
            bits = mix(seed, str_key("jdcam"), camera.pos_id)
            cameras.append(
                {
                    "camera_id": camera.camera_id,
                    "camera_name": camera.name,
                    "camera_location": f"Till {till}",
                    "camera_status": "online" if bits % 15 else "offline",
                    "camera_model": "Verkada " + CAMERA_MODELS[(bits >> 8) % len(CAMERA_MODELS)],
                    "pos_id": camera.pos_id,
                }
            )
        items = [
            {
                "item_id": FIRST_ITEM_ID + item,
                "item_name": self.item_name(item),
                "item_price": price / 100 if price % 100 else price // 100,
                "item_quantity": mix(seed, str_key("qty"), item) % 250,
            }
            for item, price in enumerate(self.item_prices)
        ]
        return {"stores": stores, "points-of-sale": points_of_sale, "cameras": cameras, "inventory": items}

    # --------------------------------------------------------------- truth
    def dimension_truth(self, endpoint: str) -> DimensionTruth:
        if endpoint not in self.raw:
            raise KeyError(f"unknown dimension endpoint {endpoint!r}; one of {sorted(self.raw)}")
        zone = rules.zone(self.config.timezone)
        valid: dict[str, dict[str, Any]] = {}
        rejected: list[TruthRejection] = []
        id_field = rules.ID_FIELD[endpoint]
        for record in self.raw[endpoint]:
            try:
                normalised = rules.validate(endpoint, record, zone)
            except rules.FieldError as e:
                rejected.append(TruthRejection(raw=record, field=e.field, reason=e.reason))
                continue
            normalised["raw"] = record
            valid.pop(normalised[id_field], None)  # the last occurrence wins, in page order
            valid[normalised[id_field]] = normalised
        return DimensionTruth(valid=valid, rejected=rejected)

    def camera_mapping(self) -> dict[str, str | None]:
        """JD camera id (str) -> Verkada camera id or None, by the project's mapping rule:
        the one Verkada camera with the same name (case and outer spaces aside), else the
        JD id itself when it is a Verkada camera id, else none."""
        by_name: dict[str, list[str]] = {}
        for camera in self.verkada_cameras:
            by_name.setdefault(camera["name"].strip().lower(), []).append(camera["camera_id"])
        verkada_ids = self.verkada_ids()
        mapping: dict[str, str | None] = {}
        for camera_id, record in self.dimension_truth("cameras").valid.items():
            name = record.get("camera_name")
            same_name = by_name.get(name.strip().lower(), []) if name is not None else []
            mapping[camera_id] = (
                same_name[0] if len(same_name) == 1 else (camera_id if camera_id in verkada_ids else None)
            )
        return mapping

    def verkada_ids(self) -> set[str]:
        return {camera["camera_id"] for camera in self.verkada_cameras}


def _store_names(count: int) -> list[str]:
    """Unique store names: the places in turn, numbered from the second round on."""
    names = []
    for index in range(count):
        place = STORE_PLACES[index % len(STORE_PLACES)]
        round_ = index // len(STORE_PLACES)
        names.append(place if round_ == 0 else f"{place} {round_ + 1}")
    return names
