"""API keys: 401 without one, 403 for a revoked one, the name (never the key) in the access log."""

from __future__ import annotations

import logging

import pytest

from jd_helix.api.keys import ApiKey, KeyConfigError, KeyRing, hash_key, new_key, parse_entries
from jd_helix_tests.api.conftest import AUTH, GOOD_KEY, REVOKED_KEY


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "jdh_wrong"}, {"Authorization": "Bearer jdh_wrong"}, {"Authorization": f"Basic {GOOD_KEY}"}],
)
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
    found = _found(ring, key)
    assert found.name == "bi-team" and not found.revoked
    keys_file.write_text(f"bi-team:{hash_key(key)}:revoked\n")
    assert _found(ring, key).revoked
    keys_file.write_text("this line is broken\n")  # a broken edit that no longer lists the key: it is gone
    assert ring.find(key) is None
    assert ring.find("jdh_other") is None


def _found(ring: KeyRing, key: str) -> ApiKey:
    found = ring.find(key)
    assert found is not None, "the key is known"
    return found


def _write(path, text: str, mode: int = 0o600) -> None:
    path.write_text(text)
    path.chmod(mode)


def test_a_broken_keys_file_still_revokes_what_it_revokes(tmp_path, caplog):
    """Issue 26: a revocation beside a typo was rejected with the whole file, and the key kept working."""
    kept, revoked, dropped = new_key(), new_key(), new_key()
    keys_file = tmp_path / "keys"
    _write(keys_file, f"bi:{hash_key(kept)}\nold-bi:{hash_key(revoked)}\ngone:{hash_key(dropped)}\n")
    ring = KeyRing(None, keys_file)
    assert not _found(ring, revoked).revoked and ring.find(dropped) is not None
    _write(keys_file, f"bi:{hash_key(kept)}\nold-bi:{hash_key(revoked)}:revoked\nnew team:{hash_key(new_key())}\n")
    with caplog.at_level(logging.ERROR, logger="jd_helix.api.keys"):
        assert _found(ring, revoked).revoked  # the edit's revocation holds
        assert ring.find(dropped) is None  # and so does the line it deleted
        found = _found(ring, kept)
        assert found.name == "bi" and not found.revoked  # the others keep working
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "new team" in caplog.records[0].getMessage()


def test_a_deleted_keys_file_takes_its_keys_and_says_so_once(tmp_path, caplog):
    key = new_key()
    keys_file = tmp_path / "keys"
    _write(keys_file, f"bi:{hash_key(key)}\n")
    ring = KeyRing(f"dashboards:{hash_key(GOOD_KEY)}", keys_file)
    assert ring.find(key) is not None
    keys_file.unlink()
    with caplog.at_level(logging.INFO, logger="jd_helix.api.keys"):
        for _ in range(5):
            assert ring.find(key) is None
            assert _found(ring, GOOD_KEY).name == "dashboards"  # the environment's keys stay
    assert len(caplog.records) == 1 and "is gone" in caplog.records[0].getMessage()
    _write(keys_file, f"bi:{hash_key(key)}\n")
    assert _found(ring, key).name == "bi"  # back when the file is


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o640, False), (0o620, True), (0o606, True)])
def test_a_keys_file_others_may_write_is_warned_about(tmp_path, caplog, mode, warned):
    keys_file = tmp_path / "keys"
    _write(keys_file, f"bi:{hash_key(new_key())}\n", mode)
    with caplog.at_level(logging.WARNING, logger="jd_helix.api.keys"):
        KeyRing(None, keys_file)
    assert any("writable by group or others" in r.getMessage() for r in caplog.records) == warned


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
    assert [(k.name, k.sha256[:2], k.revoked) for k in keys] == [
        ("a", "ab", False),
        ("b", "cd", True),
        ("c", "ef", False),
    ]


@pytest.mark.parametrize(
    "hostile", ['%0A127.0.0.1 key=admin "GET /v1/stores" 200 1.0ms', "%00%00", "%0D%0Aforged", "%22%20200"]
)
def test_a_client_cannot_write_its_own_access_log_line(client, caplog, hostile):
    """Issue 26: a %0A in the path wrote a whole forged line, a %00 wrote NUL bytes."""
    with caplog.at_level(logging.INFO, logger="jd_helix.api.access"):
        client.get(f"/v1/stores/x{hostile}/sales?store={hostile}", headers=AUTH)
        client.get(f"/nothing{hostile}")
    lines = [r.getMessage() for r in caplog.records if r.name == "jd_helix.api.access"]
    assert len(lines) == 2
    for line in lines:
        assert not any(ord(c) < 0x20 or c == "\x7f" for c in line), repr(line)
        assert line.count('"') == 2, line  # the request field is closed only by its own quote
    assert "\\x0a" in lines[0] or "\\x00" in lines[0] or "\\x0d" in lines[0] or "\\x22" in lines[0]
