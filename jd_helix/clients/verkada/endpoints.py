"""The Verkada API paths the client calls (docs/verkada-helix-api.md)."""

TOKEN_PATH = "/token"
CAMERAS_PATH = "/cameras/v1/devices"
EVENT_TYPE_PATH = "/cameras/v1/video_tagging/event_type"
EVENT_PATH = "/cameras/v1/video_tagging/event"
BATCH_PATH = "/cameras/v1/video_tagging/event/batch"
SEARCH_PATH = "/cameras/v1/video_tagging/event/search"
FOOTAGE_LINK_PATH = "/cameras/v1/footage/link"
