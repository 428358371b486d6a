-- The warehouse schema exactly as the release before migrations (commit fa0c6c0) created it:
-- SCHEMA of jd_helix/resources/warehouse.py there, copied verbatim (`git show
-- fa0c6c0:jd_helix/resources/warehouse.py`). The migration tests build warehouses of that release
-- from it; never edit it.
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
