"""The built-in sandbox of the JD Sports retail API and the Verkada Helix API.

    from jd_helix.sandbox import SandboxConfig, Sandbox
    with Sandbox.running(SandboxConfig(seed=7), port=0) as sandbox:
        sandbox.jd_base_url, sandbox.verkada_base_url, sandbox.jd_api_key, sandbox.verkada_api_key
        sandbox.truth(start, end); sandbox.helix_events(); sandbox.helix_writes(); sandbox.stats()

Run it on its own with `jd-helix sandbox --port 8765`.

Where things live:
    server.py              Sandbox: builds the parts, puts faults and the rate limit in front
                           of the APIs, counts answers, serves /_sandbox (inspection, admin)
    http_server.py         the loopback HTTP plumbing (read a request, write a Reply)
    config.py, defaults.py, clock.py    settings, well-known address and keys, "now"
    world.py               stores, tills, JD and Verkada cameras, items (built whole at start)
    dimension_oddities.py  the JD dimension pages as served, oddities included
    sales.py               the sales of any hour, each computed alone from hashes (hashing.py)
    truth.py, rules.py     the ground truth, and the record rules it applies (kept apart from
                           the pipeline's parser on purpose)
    jd_api.py, jd_query.py                 the JD API (/jd)
    verkada.py, helix_events.py, helix_batch.py, verkada_request.py    the Verkada API (/verkada)
    faults.py, ratelimit.py, reply.py      faults on demand, Verkada's rate limit, an answer
    command.py             `jd-helix sandbox`
"""

from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.faults import Faults, FaultSettings
from jd_helix.sandbox.server import Sandbox
from jd_helix.sandbox.truth import DimensionTruth, SalesTruth, TruthRejection, TruthSale

__all__ = [
    "DimensionTruth",
    "FaultSettings",
    "Faults",
    "SalesTruth",
    "Sandbox",
    "SandboxConfig",
    "TruthRejection",
    "TruthSale",
]
