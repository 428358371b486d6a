"""API keys: 401 without one, 403 for a revoked one, the name (never the key) in the access log."""

from __future__ import annotations

import logging

import pytest

from jd_helix.api.keys import KeyConfigError, KeyRing, hash_key, new_key, parse_entries
from jd_helix_tests.api.conftest import GOOD_KEY, REVOKED_KEY


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "jdh_wrong"}, {"Authorization": "Bearer jdh_wrong"}, {"Authorization": f"Basic {GOOD_KEY}"}])
def test_no_key_or_an_unknown_one_is_a_401(client, headers):
    response = client.get("/v1/stores", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert GOOD_KEY not in response.text


def test_a_revoked_key_is_a_403_naming_it(client):
    response = client.get("/v1/stores", headers={"X-API-Key": REVOKED_KEY})
    assert response.status_code == 403
    assert "'finance'" in response.json()["detail"] and "revoked" in response.json()["detail"]


def test_the_key_goes_in_either_header(client):
    assert client.get("/v1/stores", headers={"X-API-Key": GOOD_KEY}).status_code == 200
    assert client.get("/v1/stores", headers={"Authorization": f"Bearer {GOOD_KEY}"}).status_code == 200


def test_health_and_the_api_description_need_no_key(client):
    assert client.get("/healthz").json()["status"] == "ok"
    assert "/v1/transactions" in client.get("/openapi.json").json()["paths"]


def test_the_access_log_names_the_key_never_the_key_itself(client, caplog):
    with caplog.at_level(logging.INFO, logger="jd_helix.api.access"):
        client.get("/v1/stores?limit=2", headers={"X-API-Key": GOOD_KEY})
        client.get("/v1/stores?api_key=" + GOOD_KEY, headers={"X-API-Key": REVOKED_KEY})
        client.get("/v1/stores")
    lines = [r.getMessage() for r in caplog.records if r.name == "jd_helix.api.access"]
    assert 'key=dashboards "GET /v1/stores?limit=2" 200' in lines[0]
    assert "key=finance" in lines[1] and " 403 " in lines[1]
    assert 'key=- "GET /v1/stores" 401' in lines[2]
    assert not any(GOOD_KEY in line or REVOKED_KEY in line for line in lines)


def test_revoking_a_key_in_the_keys_file_takes_effect_without_a_restart(tmp_path):
    key = new_key()
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"# who may read\nbi-team:{hash_key(key)}\n")
    ring = KeyRing(None, keys_file)
    assert ring.find(key).name == "bi-team" and not ring.find(key).revoked
    keys_file.write_text(f"bi-team:{hash_key(key)}:revoked\n")
    assert ring.find(key).revoked
    keys_file.write_text("this line is broken\n")  # a broken edit keeps the keys it had
    assert ring.find(key).revoked
    assert ring.find("jdh_other") is None


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ("dashboards:" + "ab" * 31, "64 hex digits"),
        ("dashboards:jdh_the_key_itself", "never the key"),
        ("bad name:" + "ab" * 32, "key name"),
        ("a:" + "ab" * 32 + ":disabled", ":revoked"),
        ("a:" + "ab" * 32 + ",a:" + "cd" * 32, "own name"),
        ("", "No API keys"),
    ],
)
def test_key_entries_that_cannot_be_used_are_refused_with_the_reason(entries, words):
    with pytest.raises(KeyConfigError, match=words):
        KeyRing(entries, None)


def test_entries_parse_from_commas_and_lines():
    keys = parse_entries(f"a:{'ab' * 32}, b:{'CD' * 32}:revoked\n# note\nc:{'ef' * 32} # team c", "test")
    assert [(k.name, k.sha256[:2], k.revoked) for k in keys] == [("a", "ab", False), ("b", "cd", True), ("c", "ef", False)]
