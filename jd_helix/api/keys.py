"""API keys: several, each with a name, kept only as SHA-256 hashes.

Entries read `name:sha256hex` (a key in use) or `name:sha256hex:revoked` (a key that
still gets a clear 403 and shows up by name in the access log). They come from
JD_HELIX_API_KEYS (entries separated by commas) and/or a keys file (one entry a line,
`#` comments), which is re-read when it changes, so revoking a key needs no restart.

Keys are 256-bit random tokens made by `new_key`, so a plain SHA-256 is enough to make
the stored hash useless to a thief (there is no password to guess).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
KEYS_ENV = "JD_HELIX_API_KEYS"
KEY_PREFIX = "jdh_"
REVOKED = "revoked"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class KeyConfigError(ValueError):
    """An entry of JD_HELIX_API_KEYS or the keys file cannot be used (the message names it)."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    sha256: str
    revoked: bool


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def parse_entries(text: str, origin: str) -> list[ApiKey]:
    """Entries separated by commas or new lines; blank entries and `#` comments are skipped."""
    keys: list[ApiKey] = []
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    for number, entry in enumerate((e.strip() for line in lines for e in line.split(",")), start=1):
        if not entry:
            continue
        parts = entry.split(":")
        name, digest = parts[0].strip(), parts[1].strip().lower() if len(parts) > 1 else ""
        flags = [p.strip().lower() for p in parts[2:]]
        where = f"{origin}, entry {number} ({name or 'no name'})"
        if not _NAME.match(name):
            raise KeyConfigError(f"{where}: a key name is letters, digits, '.', '_' or '-' (at most 64)")
        if not _SHA256.match(digest):
            raise KeyConfigError(f"{where}: expected name:sha256 with 64 hex digits (the hash of the key, never the key)")
        if flags not in ([], [REVOKED]):
            raise KeyConfigError(f"{where}: the only flag after the hash is ':{REVOKED}'")
        keys.append(ApiKey(name=name, sha256=digest, revoked=bool(flags)))
    return keys


def _index(keys: list[ApiKey]) -> dict[str, ApiKey]:
    names = [k.name for k in keys]
    hashes = [k.sha256 for k in keys]
    if len(set(names)) != len(names):
        raise KeyConfigError(f"each API key needs its own name; repeated: {sorted({n for n in names if names.count(n) > 1})}")
    if len(set(hashes)) != len(hashes):
        raise KeyConfigError("the same key hash is listed under two names")
    return {k.sha256: k for k in keys}


class KeyRing:
    """The keys from the environment and the keys file; the file is re-read when it changes."""

    def __init__(self, env_value: str | None, keys_file: Path | None):
        self._env_keys = parse_entries(env_value or "", KEYS_ENV)
        self._file = keys_file
        self._file_mtime: int | None = None
        self._file_keys: list[ApiKey] = []
        if keys_file is not None:
            self._file_keys = parse_entries(keys_file.read_text(), str(keys_file))
            self._file_mtime = keys_file.stat().st_mtime_ns
        self._by_hash = _index(self._env_keys + self._file_keys)
        if not self._by_hash:
            raise KeyConfigError(
                f"No API keys: set {KEYS_ENV}=name:sha256,... or pass --keys-file "
                "(`jd-helix serve --new-key NAME` makes a key and its entry)."
            )

    def _reload_if_changed(self) -> None:
        if self._file is None:
            return
        try:
            mtime = self._file.stat().st_mtime_ns
        except OSError as error:
            log.error("Keys file unreadable, keeping the previous keys: %s", error)
            return
        if mtime == self._file_mtime:
            return
        self._file_mtime = mtime  # a broken file is reported once, not on every request
        try:
            file_keys = parse_entries(self._file.read_text(), str(self._file))
            by_hash = _index(self._env_keys + file_keys)
        except (OSError, KeyConfigError) as error:
            # Keep serving with the keys we had rather than locking every client out.
            log.error("Keys file not reloaded, keeping the previous keys: %s", error)
            return
        self._file_keys, self._by_hash = file_keys, by_hash
        log.info("Keys file reloaded: %d keys", len(by_hash))

    def find(self, key: str) -> ApiKey | None:
        self._reload_if_changed()
        digest = hash_key(key)
        match = self._by_hash.get(digest)
        # The dict lookup found the candidate; compare in constant time all the same.
        if match is not None and hmac.compare_digest(match.sha256, digest):
            return match
        return None
