"""Where a sale stands with Helix: the ``status`` of its row in the ledger (``helix_events``).

The values are what the ledger stores; SQL binds these members as parameters instead of
spelling the words (values never go into SQL text). The Verkada client reports one of
posted, failed or skipped for each event it was given.
"""

from enum import StrEnum


class HelixStatus(StrEnum):
    POSTED = "posted"  # Helix has the event
    FAILED = "failed"  # transient failure: retried with the same triple, up to max_attempts
    SKIPPED = "skipped"  # Helix will never take it (too old, invalid): not retried
    UNMAPPED = "unmapped"  # no Verkada camera yet: re-joined when the camera lists change
    PENDING = "pending"  # triple pinned, not yet answered (or its run died)
