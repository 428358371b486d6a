"""Where the built-in sandbox listens when nobody says otherwise, and the keys it accepts.

`make run` (jd_helix/cli/dev.py) starts the sandbox here and points the four API settings at
it when none of them is given; the pipeline itself never falls back to them.
"""

SANDBOX_HOST = "127.0.0.1"
SANDBOX_PORT = 8765
JD_SANDBOX_API_KEY = "jd-sandbox-key"
VERKADA_SANDBOX_API_KEY = "verkada-sandbox-key"


def jd_base_url(host: str = SANDBOX_HOST, port: int = SANDBOX_PORT) -> str:
    return f"http://{host}:{port}/jd"


def verkada_base_url(host: str = SANDBOX_HOST, port: int = SANDBOX_PORT) -> str:
    return f"http://{host}:{port}/verkada"
