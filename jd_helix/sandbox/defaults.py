"""Where the built-in sandbox listens when nobody says otherwise, and the keys it accepts.

The pipeline falls back to these when JD_API_BASE_URL / VERKADA_API_BASE_URL are unset,
so `make run` works end to end with no settings at all. They open nothing real.
"""

SANDBOX_HOST = "127.0.0.1"
SANDBOX_PORT = 8765
JD_SANDBOX_API_KEY = "jd-sandbox-key"
VERKADA_SANDBOX_API_KEY = "verkada-sandbox-key"


def jd_base_url(host: str = SANDBOX_HOST, port: int = SANDBOX_PORT) -> str:
    return f"http://{host}:{port}/jd"


def verkada_base_url(host: str = SANDBOX_HOST, port: int = SANDBOX_PORT) -> str:
    return f"http://{host}:{port}/verkada"
