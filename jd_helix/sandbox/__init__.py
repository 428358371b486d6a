"""The built-in sandbox of the JD Sports retail API and the Verkada Helix API.

    from jd_helix.sandbox import SandboxConfig, Sandbox
    with Sandbox.running(SandboxConfig(seed=7), port=0) as sandbox:
        sandbox.jd_base_url, sandbox.verkada_base_url, sandbox.jd_api_key, sandbox.verkada_api_key
        sandbox.truth(start, end); sandbox.helix_events(); sandbox.helix_writes(); sandbox.stats()

Run it on its own with `jd-helix sandbox --port 8765`.
"""

from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.faults import Faults, FaultSettings
from jd_helix.sandbox.server import Sandbox
from jd_helix.sandbox.truth import DimensionTruth, SalesTruth, TruthRejection, TruthSale

__all__ = ["Sandbox", "SandboxConfig", "Faults", "FaultSettings", "SalesTruth", "TruthSale",
           "TruthRejection", "DimensionTruth"]
