"""Secrets: the two API keys (which open a company's cameras) and the Verkada tokens never
leak: not into the Dagster home (event log, compute logs), the DuckDB file, or anything
printed; keys come only through EnvVar; errors name the setting, never the key; plain
HTTP is refused outside loopback and TLS verification stays on.
"""

from __future__ import annotations

import ast
import re
import secrets
from pathlib import Path
from typing import TypedDict

import dagster as dg
import pytest

from jd_helix.clients.jd.client import JdAuthError
from jd_helix.clients.verkada.errors import VerkadaAuthError, VerkadaConfigError
from jd_helix.lib.partitions import partition_key
from jd_helix.resources.from_environment import build_resources
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.chaos.harness import DIMENSION_ASSETS, HOURLY_ASSETS, PROJECT_ROOT
from jd_helix_tests.e2e.harness import recent_hours

JD_KEY = "jdk_" + secrets.token_hex(20)
VERKADA_KEY = "vkd_api_" + secrets.token_hex(16)


class _SmallSandbox(TypedDict):
    seed: int
    stores: int
    pos_per_store: int
    items: int
    fixed_sales_per_hour: int


SMALL: _SmallSandbox = {"seed": 5, "stores": 4, "pos_per_store": 2, "items": 30, "fixed_sales_per_hour": 40}


def every_file_under(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_full_run_leaves_no_key_and_no_token_anywhere(tmp_path, monkeypatch, capfd):
    home, database = tmp_path / "dagster_home", tmp_path / "warehouse" / "jd_helix.duckdb"
    home.mkdir()
    # Tokens live 1.5 s and a tenth of the answers fail: several tokens are issued,
    # renewed after 401s and carried through retries and error paths.
    faults = [{"token_ttl_s": 1.5}, {"api": "both", "error_rate": 0.1}, {"api": "verkada", "non_json": 1}]
    config = SandboxConfig(**SMALL, jd_api_key=JD_KEY, verkada_api_key=VERKADA_KEY, faults=faults)
    with Sandbox.running(config, port=0) as sandbox:
        for name, value in {
            "JD_API_BASE_URL": sandbox.jd_base_url,
            "JD_API_KEY": JD_KEY,
            "VERKADA_API_BASE_URL": sandbox.verkada_base_url,
            "VERKADA_API_KEY": VERKADA_KEY,
            "JD_HELIX_DUCKDB_PATH": str(database),
            "DAGSTER_HOME": str(home),
        }.items():
            monkeypatch.setenv(name, value)
        resources = build_resources()
        # Only EnvVar references reach the resource config (what the launchpad shows).
        assert isinstance(resources["jd_api"].api_key, dg.EnvVar) and resources["jd_api"].api_key == "JD_API_KEY"
        assert isinstance(resources["verkada"].api_key, dg.EnvVar) and resources["verkada"].api_key == "VERKADA_API_KEY"

        with dg.instance_for_test(temp_dir=str(home)) as instance:
            run_ids = []
            for _ in range(3):  # the non-JSON answer fails one run; run retries would re-run it
                result = dg.materialize(DIMENSION_ASSETS, resources=resources, instance=instance, raise_on_error=False)
                run_ids.append(result.run_id)
                if result.success:
                    break
            assert result.success
            for hour in recent_hours(1):
                result = dg.materialize(
                    HOURLY_ASSETS, resources=resources, instance=instance, partition_key=partition_key(hour)
                )
                run_ids.append(result.run_id)
            logged = "\n".join(repr(record) for run_id in run_ids for record in instance.all_logs(run_id))
        tokens = list(sandbox.helix.tokens)
        helix_events = len(sandbox.helix_events())

    printed = capfd.readouterr()
    files = every_file_under(home) | every_file_under(database.parent)
    assert len(tokens) >= 3 and helix_events > 0
    assert any(name.endswith(".duckdb") for name in files)
    assert any("compute_logs" in name or name.endswith((".out", ".err", ".complete")) for name in files), sorted(files)
    assert any(name.endswith(".db") for name in files), "the event log (sqlite) is searched"
    for secret in [JD_KEY, VERKADA_KEY, *tokens]:
        assert secret not in printed.out and secret not in printed.err
        assert secret not in logged
        leaks = [name for name, data in files.items() if secret.encode() in data]
        assert not leaks, f"a secret is in {leaks}"


def test_a_wrong_key_fails_with_the_setting_named_and_the_key_unprinted(tmp_path, capfd):
    wrong_jd, wrong_verkada = "jdk_wrong_" + secrets.token_hex(8), "vkd_api_wrong_" + secrets.token_hex(8)
    config = SandboxConfig(**SMALL, jd_api_key=JD_KEY, verkada_api_key=VERKADA_KEY)
    with Sandbox.running(config, port=0) as sandbox:
        jd = JdApiResource(base_url=sandbox.jd_base_url, api_key=wrong_jd)
        verkada = VerkadaResource(base_url=sandbox.verkada_base_url, api_key=wrong_verkada)
        client = jd.get_client()
        with pytest.raises(JdAuthError) as jd_error:
            client.fetch_all("/v1/stores")
        client.close()
        with verkada.get_client() as verkada_client, pytest.raises(VerkadaAuthError) as verkada_error:
            verkada_client.list_cameras()
        resources = {
            "jd_api": jd,
            "verkada": verkada,
            "warehouse": WarehouseResource(database=str(tmp_path / "w.duckdb")),
            "helix_settings": HelixSettings(),
        }
        result = dg.materialize(DIMENSION_ASSETS, resources=resources, raise_on_error=False)
    assert "JD_API_KEY" in str(jd_error.value) and wrong_jd not in str(jd_error.value)
    assert "VERKADA_API_KEY" in str(verkada_error.value) and wrong_verkada not in str(verkada_error.value)
    assert not result.success
    failures = "\n".join(repr(e) for e in result.get_step_failure_events())
    assert "JD_API_KEY" in failures and "VERKADA_API_KEY" in failures
    printed = capfd.readouterr()
    for key in (wrong_jd, wrong_verkada):
        assert key not in failures and key not in printed.out and key not in printed.err


@pytest.mark.parametrize(
    "url",
    ["http://example.com", "http://10.0.0.5:8080/jd", "http://127.0.0.1.nip.io/", "http://localhost.example.com"],
)
def test_plain_http_is_refused_for_any_host_outside_loopback(url):
    with pytest.raises(ValueError, match="https"):
        JdApiResource(base_url=url, api_key="k").get_client()
    with pytest.raises(VerkadaConfigError, match="https"):
        VerkadaResource(base_url=url, api_key="k").get_client()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1", "https://api.verkada.com"]
)
def test_loopback_http_and_https_are_accepted(url):
    JdApiResource(base_url=url, api_key="k").get_client().close()
    VerkadaResource(base_url=url, api_key="k").get_client().close()


def test_tls_verification_stays_on():
    jd = JdApiResource(base_url="https://jd.example.com", api_key="k").get_client()
    verkada = VerkadaResource(base_url="https://api.verkada.com", api_key="k").get_client()
    assert jd._session.verify is True and verkada.transport._session.verify is True
    jd.close()
    verkada.close()
    sources = list((PROJECT_ROOT / "jd_helix").rglob("*.py"))
    offenders = [str(p) for p in sources if re.search(r"verify\s*=\s*False|disable_warnings|CERT_NONE", p.read_text())]
    assert not offenders


# --------------------------------------------------------------------------- SQL


def _sql_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("execute", "executemany", "sql", "query")
            and node.args
        ):
            yield node


def _pasted(expr: ast.AST, identifiers: set[str]) -> list[str]:
    """What an SQL string expression pastes in: anything but constants, UPPER_CASE module
    constants (SQL fragments) and the table-name variables listed in `identifiers`."""
    if isinstance(expr, ast.Constant) or (isinstance(expr, ast.Name) and expr.id.lstrip("_").isupper()):
        return []
    if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name) and expr.value.id.lstrip("_").isupper():
        return _pasted(expr.slice, identifiers) and [ast.unparse(expr)]  # a fragment picked from a constant table
    if isinstance(expr, ast.Name):
        return [] if expr.id in identifiers else [expr.id]
    if ast.unparse(expr) == "migration.sql":  # a Migration of resources/migrations.py: code, not data
        return []
    if isinstance(expr, ast.Call) and "Table." in ast.unparse(expr.func):  # SQLAlchemy binds its own values
        return []
    if isinstance(expr, ast.JoinedStr):
        return [
            bad
            for value in expr.values
            if isinstance(value, ast.FormattedValue)
            for bad in _pasted(value.value, identifiers)
        ]
    if isinstance(expr, ast.BinOp):  # "..." + x, "..." % x
        return _pasted(expr.left, identifiers) + _pasted(expr.right, identifiers)
    return [ast.unparse(expr)]


def test_sql_is_built_with_parameters_never_by_pasting_values():
    """Values always travel as bound parameters; the only names pasted into SQL text are
    SQL fragments held in module constants and table names from the code's own table list
    (and `sql`, the text a read helper is handed by its callers)."""
    from jd_helix.defs.reference_data.assets import DIMENSIONS

    assert all(re.fullmatch(r"[a-z_]+", table) for table in DIMENSIONS), "table names are plain identifiers"
    offenders = []
    for path in sorted((PROJECT_ROOT / "jd_helix").rglob("*.py")):
        if "sandbox" in path.parts:
            continue
        for call in _sql_calls(ast.parse(path.read_text())):
            # takes_sql: an event type's filter (EventType.takes_sql), built from checked rule
            # names; the store ids it tests are bound ($takes_stores, EventType.takes_params).
            for bad in _pasted(call.args[0], identifiers={"table", "sql", "takes_sql"}):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{call.lineno} pastes {bad}")
    assert not offenders, offenders
