"""What Helix accepts (docs/verkada-helix-api.md): the documented limits the client keeps to."""

from __future__ import annotations

from datetime import timedelta

# Helix refuses events older than this or further ahead than that (by its own clock).
HELIX_MAX_EVENT_AGE = timedelta(days=30)
HELIX_MAX_FUTURE = timedelta(minutes=5)

MAX_BATCH_ITEMS = 1000  # per batch job
CAMERA_PAGE_SIZE = 200  # the documented maximum page of cameras
SEARCH_PAGE_SIZE = 200  # the largest page of event search (Verkada's general maximum; assumed for search)
MAX_VALUE_CHARS = 200  # Helix cuts attribute strings here; the client cuts them itself
SCHEMA_TYPES = frozenset({"string", "integer", "float", "boolean"})
TOKEN_LIFETIME_S = 30 * 60
