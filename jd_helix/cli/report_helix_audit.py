"""`jd-helix report helix-audit`: each hour's audit state (see domain/helix_audit_state.py)."""

import click
import pandas as pd

from jd_helix.cli.report import _bounds, _show, window_options
from jd_helix.cli.report_queries import WriterWait, connect_when_free
from jd_helix.domain.helix_audit_state import audit_state


def helix_audit_frame(database: str, start, end, wait: WriterWait) -> pd.DataFrame:
    with connect_when_free(database, wait) as conn:
        return pd.DataFrame(audit_state(conn, start, end))


@click.command("helix-audit")
@window_options
def helix_audit_report(start, end, database, output, wait_s) -> None:
    """Each hour's audit against Helix: when it was audited, and how many events Helix held,
    were missing, were re-posted, were adopted and were unknown; `still missing` after the
    re-posts is an error (the helix_holds_ledger check)."""
    _show(lambda wait: helix_audit_frame(database, *_bounds(start, end), wait), output, wait_s)
