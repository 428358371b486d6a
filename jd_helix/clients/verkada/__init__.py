"""The Verkada API (cameras, Helix event types and events): its client and the parts it is made of.

``client.VerkadaClient`` is what callers use; the other modules are its seams: what Helix
accepts (``limits``), its paths (``endpoints``), errors, attribute values, the token, one
HTTP request (``transport``), batch jobs and the single-POST fallback, and the org's rate
limit.
"""
