"""Every change to the warehouse's tables, written once here, applied in place in order.

The warehouse records the migrations it has taken in `schema_migrations` (one row each:
version, what it did, when). `WarehouseResource` calls `migrate` the first time a process
opens the file (read-write: DuckDB lets one process at a time do that, so two processes never
migrate one file at once); each migration runs with its row in one transaction, so a process
killed halfway leaves the warehouse at the version before, and the next start runs it again.

Migration 1 is the schema of the release before migrations, written IF NOT EXISTS: a fresh
file gets it, and a warehouse that release wrote already has it (its rows are untouched).

To change a table: append a Migration with the next version (never edit one that has
shipped). A warehouse of a newer release than this code is refused, naming both versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

# The tables of the release before migrations (fa0c6c0), as it created them: IF NOT EXISTS, so
# that a warehouse it wrote takes this step without change. Instants are stored as UTC
# TIMESTAMPs (no zone) plus epoch milliseconds where Helix needs them.
BASELINE = """
-- Exact money from integer cents (a DECIMAL product stays exact; a division would not).
CREATE MACRO IF NOT EXISTS cents_to_money(cents) AS
    (CAST(cents AS DECIMAL(38, 0)) * CAST(0.01 AS DECIMAL(3, 2)))::DECIMAL(18, 2);
CREATE TABLE IF NOT EXISTS jd_stores (
    store_id VARCHAR PRIMARY KEY, store_name VARCHAR, store_address VARCHAR,
    store_phone VARCHAR, store_email VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS jd_points_of_sale (
    pos_id VARCHAR PRIMARY KEY, camera_id VARCHAR, pos_name VARCHAR, store_id VARCHAR,
    loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS jd_cameras (
    camera_id VARCHAR PRIMARY KEY, camera_name VARCHAR, camera_location VARCHAR,
    camera_status VARCHAR, camera_model VARCHAR, pos_id VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS jd_items (
    item_id VARCHAR PRIMARY KEY, item_name VARCHAR, item_price DECIMAL(18, 2),
    item_quantity BIGINT, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS verkada_cameras (
    camera_id VARCHAR PRIMARY KEY, name VARCHAR, site VARCHAR, site_id VARCHAR,
    model VARCHAR, serial VARCHAR, status VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS jd_rejected_records (
    endpoint VARCHAR NOT NULL, scope VARCHAR NOT NULL, field VARCHAR, reason VARCHAR,
    raw JSON, rejected_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS jd_transactions (
    sale_hour TIMESTAMP NOT NULL, transaction_id VARCHAR NOT NULL,
    transaction_at TIMESTAMP NOT NULL, time_ms BIGINT NOT NULL,
    transaction_amount DECIMAL(18, 2) NOT NULL, item_id VARCHAR NOT NULL,
    camera_id VARCHAR NOT NULL, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS transaction_camera_events (
    sale_hour TIMESTAMP NOT NULL, transaction_id VARCHAR NOT NULL,
    transaction_at TIMESTAMP NOT NULL, time_ms BIGINT NOT NULL,
    transaction_amount DECIMAL(18, 2) NOT NULL, item_id VARCHAR, item_name VARCHAR,
    jd_camera_id VARCHAR, jd_camera_name VARCHAR, verkada_camera_id VARCHAR,
    mapped_by VARCHAR, unmapped_reason VARCHAR, pos_id VARCHAR, pos_name VARCHAR,
    store_id VARCHAR, store_name VARCHAR, built_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS helix_event_type (
    event_type_uid VARCHAR PRIMARY KEY, name VARCHAR, event_schema JSON,
    action VARCHAR, checked_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS helix_events (
    transaction_id VARCHAR PRIMARY KEY, sale_hour TIMESTAMP NOT NULL,
    verkada_camera_id VARCHAR, event_type_uid VARCHAR, time_ms BIGINT,
    status VARCHAR NOT NULL, reason VARCHAR, attempts INTEGER NOT NULL DEFAULT 0,
    pinned_at TIMESTAMP, last_attempt_at TIMESTAMP, posted_at TIMESTAMP,
    footage_url VARCHAR);
CREATE UNIQUE INDEX IF NOT EXISTS helix_events_triple
    ON helix_events (verkada_camera_id, event_type_uid, time_ms);
CREATE TABLE IF NOT EXISTS store_sales (
    sale_hour TIMESTAMP NOT NULL, store_id VARCHAR, store_name VARCHAR,
    transactions BIGINT, sales_total DECIMAL(18, 2), events_posted BIGINT,
    built_at TIMESTAMP);
"""

# Migration 2 (issue 23): the exception flags of each flagged transaction (the
# `transaction_exceptions` asset, defs/exceptions/). Only transactions with at least one flag
# have a row; one boolean column per rule, and `exceptions` lists those that fired.
TRANSACTION_EXCEPTIONS = """
CREATE TABLE transaction_exceptions (
    sale_hour TIMESTAMP NOT NULL, transaction_id VARCHAR NOT NULL,
    transaction_at TIMESTAMP NOT NULL, transaction_amount DECIMAL(18, 2) NOT NULL,
    item_id VARCHAR, store_id VARCHAR, store_name VARCHAR, pos_id VARCHAR, pos_name VARCHAR,
    refund BOOLEAN NOT NULL, high_value BOOLEAN NOT NULL, price_override BOOLEAN NOT NULL,
    after_hours BOOLEAN NOT NULL, repeat_refunds BOOLEAN NOT NULL,
    exceptions VARCHAR NOT NULL, built_at TIMESTAMP);
"""


# Migration 3 (issue 23): a ledger row is one (transaction, event type) pair, keyed by both, so
# that one sale can become an event of several types, each with its own pinned triple. Rows
# that never reached Helix (unmapped, or skipped before any attempt) had no event type: they
# take the one the ledger posts to (helix_destination, else helix_event_type); with neither
# (nothing was ever pinned), they are dropped, and the next run of their hour records them
# again. DuckDB cannot change a primary key in place: the table is rebuilt, rows in the order
# the posting reads them, and the triple's unique index made again.
LEDGER_KEYED_BY_EVENT_TYPE = """
CREATE TABLE IF NOT EXISTS helix_destination (
    api_base_url VARCHAR NOT NULL, event_type_uid VARCHAR NOT NULL, recorded_at TIMESTAMP);
UPDATE helix_events SET event_type_uid = coalesce(
    (SELECT any_value(event_type_uid) FROM helix_destination),
    (SELECT any_value(event_type_uid) FROM helix_event_type))
WHERE event_type_uid IS NULL;
DELETE FROM helix_events WHERE event_type_uid IS NULL;
CREATE TABLE helix_events_keyed (
    transaction_id VARCHAR NOT NULL, sale_hour TIMESTAMP NOT NULL,
    verkada_camera_id VARCHAR, event_type_uid VARCHAR NOT NULL, time_ms BIGINT,
    status VARCHAR NOT NULL, reason VARCHAR, attempts INTEGER NOT NULL DEFAULT 0,
    pinned_at TIMESTAMP, last_attempt_at TIMESTAMP, posted_at TIMESTAMP,
    footage_url VARCHAR, PRIMARY KEY (transaction_id, event_type_uid));
INSERT INTO helix_events_keyed SELECT * FROM helix_events ORDER BY verkada_camera_id, time_ms, transaction_id;
DROP TABLE helix_events;
ALTER TABLE helix_events_keyed RENAME TO helix_events;
CREATE UNIQUE INDEX helix_events_triple ON helix_events (verkada_camera_id, event_type_uid, time_ms);
"""

# The Helix audit's record of each hour (jd_helix/lib/tables.py describes its columns).
HELIX_AUDIT = """
CREATE TABLE IF NOT EXISTS helix_audit (
    sale_hour TIMESTAMP NOT NULL, event_type_uid VARCHAR NOT NULL, audited_at TIMESTAMP NOT NULL,
    held BIGINT NOT NULL, missing BIGINT NOT NULL, reposted BIGINT NOT NULL, adopted BIGINT NOT NULL,
    unknown BIGINT NOT NULL, still_missing BIGINT NOT NULL, requests BIGINT NOT NULL,
    PRIMARY KEY (sale_hour, event_type_uid));
"""


# Which declared event type is the default (the first in the file: store_sales counts its
# events, and the API's top-level Helix fields are its row): helix_events records the declared
# order with each pinning. The release before did not: a ledger with several types takes the
# one with the most rows (the default takes every sale unless declared otherwise) until its
# next helix_events run records the order.
DESTINATION_DECLARED_ORDER = """
ALTER TABLE helix_destination ADD COLUMN IF NOT EXISTS declared_position INTEGER;
UPDATE helix_destination SET declared_position = ranked.position
FROM (
    SELECT d.event_type_uid,
           (row_number() OVER (ORDER BY count(l.transaction_id) DESC, d.event_type_uid) - 1)::INTEGER AS position
    FROM helix_destination d LEFT JOIN helix_events l USING (event_type_uid)
    GROUP BY d.event_type_uid
) ranked
WHERE helix_destination.event_type_uid = ranked.event_type_uid;
"""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS = (
    Migration(1, "the tables of the release before migrations", BASELINE),
    Migration(2, "transaction_exceptions: exception flags of flagged transactions", TRANSACTION_EXCEPTIONS),
    Migration(3, "helix_events keyed by (transaction_id, event_type_uid)", LEDGER_KEYED_BY_EVENT_TYPE),
    Migration(4, "helix_audit: each hour's audit against Helix", HELIX_AUDIT),
    Migration(5, "helix_destination: the declared order of the event types", DESTINATION_DECLARED_ORDER),
)
LATEST_VERSION = MIGRATIONS[-1].version

VERSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)
"""


class NewerWarehouseError(RuntimeError):
    """The file was written by a newer release: this code does not know its tables."""


def migrate(conn: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Apply the migrations `conn`'s warehouse has not taken yet, in order; returns them.

    Call on a read-write connection outside any transaction."""
    conn.execute(VERSIONS_TABLE)
    current = schema_version(conn)
    if current > LATEST_VERSION:
        raise NewerWarehouseError(
            f"The warehouse is at schema version {current}, written by a newer release of jd_helix; "
            f"this one knows versions up to {LATEST_VERSION}. Run the newer release (or restore a backup)."
        )
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        conn.begin()
        try:
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.description, datetime.now(UTC).replace(tzinfo=None)],
            )
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        applied.append(migration)
    return applied


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The last migration the warehouse took (0: none yet)."""
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
