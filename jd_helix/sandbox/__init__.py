"""The built-in sandbox of the JD Sports retail API and the Verkada Helix API.

    from jd_helix.sandbox import SandboxConfig, Sandbox
    with Sandbox.running(SandboxConfig(seed=7), port=0) as sb:
        sb.jd_base_url, sb.verkada_base_url, sb.jd_api_key, sb.verkada_api_key
        sb.truth(start, end); sb.helix_events(); sb.helix_writes(); sb.stats()

Run it on its own with `jd-helix sandbox --port 8765`.
"""

from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.faults import Faults, FaultSettings
from jd_helix.sandbox.server import Sandbox
from jd_helix.sandbox.truth import DimensionTruth, SalesTruth, TruthRejection, TruthSale

__all__ = ["Sandbox", "SandboxConfig", "Faults", "FaultSettings", "SalesTruth", "TruthSale",
           "TruthRejection", "DimensionTruth"]
