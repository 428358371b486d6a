"""The Helix event types a deployment posts, declared in a YAML file (JD_HELIX_EVENT_TYPES_FILE).

Each type has a name, the attributes its events carry (columns of the joined sales and the
exception flags: those the outbox selects) and which transactions it takes. Without a file
there is one type taking every transaction with every attribute (JD_HELIX_EVENT_TYPE), as
before types could be declared. The file is checked when the code location loads; an error
names the file and the line. See event_types.example.yaml and README's "Event types".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import yaml

from jd_helix.domain.exception_rules import RULES
from jd_helix.resources.helix_settings import EVENT_SCHEMA, HelixSettings

KEY_ATTRIBUTE = "transaction_id"  # every event carries it: the ledger's key and the audit's match
ATTRIBUTES = tuple(name for name in EVENT_SCHEMA if name != KEY_ATTRIBUTE)
TYPE_KEYS = ("name", "attributes", "takes")
TAKES_KEYS = ("refunds", "flagged", "stores")


class EventTypesError(ValueError):
    """The event types file is not valid; the message names the file and line."""


@dataclass(frozen=True)
class EventType:
    """One Helix event type: its name, its attributes and the transactions it takes.

    `refunds_only`, `flagged_by` (None: not a filter; empty: any rule fired) and `stores`
    (None: every store) all hold together."""

    name: str
    attributes: tuple[str, ...] = ATTRIBUTES
    refunds_only: bool = False
    flagged_by: tuple[str, ...] | None = None
    stores: tuple[str, ...] | None = None

    @property
    def schema(self) -> dict[str, str]:
        return {name: EVENT_SCHEMA[name] for name in (KEY_ATTRIBUTE, *self.attributes)}

    @property
    def takes_sql(self) -> str:
        """A condition over a transaction `e` (transaction_camera_events) and its flags `x`
        (transaction_exceptions, LEFT JOINed): true when this type takes it."""
        conditions = ["true"]
        if self.refunds_only:
            conditions.append("e.transaction_amount < 0")
        if self.flagged_by == ():
            conditions.append("coalesce(x.exceptions, '') <> ''")
        elif self.flagged_by:
            conditions.append("(" + " OR ".join(f"coalesce(x.{rule}, false)" for rule in self.flagged_by) + ")")
        if self.stores is not None:
            conditions.append("list_contains($takes_stores, e.store_id)")
        return " AND ".join(conditions)

    @property
    def takes_params(self) -> dict[str, list[str]]:
        """The values `takes_sql` binds (the rules it names are checked against RULES)."""
        return {"takes_stores": list(self.stores)} if self.stores is not None else {}


class Takes(TypedDict, total=False):
    """The filters of `takes`, as EventType's fields."""

    refunds_only: bool
    flagged_by: tuple[str, ...]
    stores: tuple[str, ...]


def default_event_types(name: str) -> tuple[EventType, ...]:
    """No file: one type for every transaction with every attribute."""
    return (EventType(name=name),)


def load_event_types(path: str | None, default_name: str) -> tuple[EventType, ...]:
    """The declared types of the file at `path` (None or empty: the default type), the first
    being the default (store_sales counts its events)."""
    if not path:
        return default_event_types(default_name)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise EventTypesError(f"{path}: cannot read the event types file (JD_HELIX_EVENT_TYPES_FILE): {exc}") from None
    return parse_event_types(text, path)


def parse_event_types(text: str, source: str) -> tuple[EventType, ...]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise EventTypesError(f"{source}: not valid YAML: {exc}") from None
    if root is None:
        raise EventTypesError(f"{source}: empty; declare `event_types:` (see event_types.example.yaml)")
    top = _mapping(root, source, "the file", allowed=("event_types",))
    types_node = top.get("event_types")
    if not isinstance(types_node, yaml.SequenceNode) or not types_node.value:
        raise EventTypesError(_at(source, types_node or root, "`event_types` must be a non-empty list of event types"))
    types: list[EventType] = []
    seen: dict[str, int] = {}
    for node in types_node.value:
        event_type = _event_type(node, source)
        if event_type.name in seen:
            raise EventTypesError(
                _at(
                    source,
                    node,
                    f"duplicate event type name {event_type.name!r} (first declared at line {seen[event_type.name]})",
                )
            )
        seen[event_type.name] = node.start_mark.line + 1
        types.append(event_type)
    return tuple(types)


def _at(source: str, node: yaml.Node, message: str) -> str:
    return f"{source}, line {node.start_mark.line + 1}: {message}"


def _mapping(node: yaml.Node, source: str, what: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise EventTypesError(_at(source, node, f"{what} must be a mapping with keys {', '.join(allowed)}"))
    keys: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if key.value not in allowed:
            raise EventTypesError(
                _at(source, key, f"unknown key {key.value!r} in {what}; allowed: {', '.join(allowed)}")
            )
        keys[key.value] = value
    return keys


def _scalar(node: yaml.Node, source: str, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise EventTypesError(_at(source, node, f"{what} must be a non-empty string"))
    return str(node.value)


def _strings(node: yaml.Node, source: str, what: str) -> list[tuple[str, yaml.Node]]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise EventTypesError(_at(source, node, f"{what} must be a non-empty list"))
    return [(_scalar(item, source, f"each of {what}"), item) for item in node.value]


def _event_type(node: yaml.Node, source: str) -> EventType:
    keys = _mapping(node, source, "an event type", allowed=TYPE_KEYS)
    if "name" not in keys:
        raise EventTypesError(_at(source, node, "an event type needs a `name`"))
    name = _scalar(keys["name"], source, "`name`")
    attributes = ATTRIBUTES
    if "attributes" in keys:
        attributes = tuple(_attributes(keys["attributes"], source))
    return EventType(name=name, attributes=attributes, **_takes(keys.get("takes"), source))


def _attributes(node: yaml.Node, source: str) -> list[str]:
    if isinstance(node, yaml.ScalarNode) and node.value == "all":
        return list(ATTRIBUTES)
    names: list[str] = []
    for name, item in _strings(node, source, "`attributes` (or `all`)"):
        if name == KEY_ATTRIBUTE:
            continue  # always carried
        if name not in ATTRIBUTES:
            raise EventTypesError(
                _at(source, item, f"unknown attribute {name!r}; known: {', '.join((KEY_ATTRIBUTE, *ATTRIBUTES))}")
            )
        if name not in names:
            names.append(name)
    return names


def _takes(node: yaml.Node | None, source: str) -> Takes:
    """`takes`: omitted or `all`, or a mapping of filters that all hold: `refunds: true`,
    `flagged: any` or a list of rules, `stores`: a list of store ids."""
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value == "all"):
        return {}
    keys = _mapping(node, source, "`takes` (or `all`)", allowed=TAKES_KEYS)
    takes: Takes = {}
    if "refunds" in keys:
        refunds = keys["refunds"]
        if not (isinstance(refunds, yaml.ScalarNode) and refunds.value in ("true", "false")):
            raise EventTypesError(_at(source, refunds, "`refunds` must be true (refunds only) or false"))
        takes["refunds_only"] = refunds.value == "true"
    if "flagged" in keys:
        flagged = keys["flagged"]
        if isinstance(flagged, yaml.ScalarNode) and flagged.value == "any":
            takes["flagged_by"] = ()
        else:
            rules = []
            for rule, item in _strings(flagged, source, "`flagged` (`any` or a list of rules)"):
                if rule not in RULES:
                    raise EventTypesError(_at(source, item, f"unknown rule {rule!r}; known: {', '.join(RULES)}"))
                rules.append(rule)
            takes["flagged_by"] = tuple(rules)
    if "stores" in keys:
        takes["stores"] = tuple(store for store, _ in _strings(keys["stores"], source, "`stores` (store ids)"))
    return takes


def configured_event_types(settings: HelixSettings) -> tuple[EventType, ...]:
    """The event types `settings` declare (its file, else the one default type)."""
    return load_event_types(settings.event_types_file, settings.event_type_name)
