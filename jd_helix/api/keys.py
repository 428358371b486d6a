"""API keys: several, each with a name, kept only as SHA-256 hashes.

Entries read `name:sha256hex` (a key in use) or `name:sha256hex:revoked` (a key that
still gets a clear 403 and shows up by name in the access log). They come from
JD_HELIX_API_KEYS (entries separated by commas) and/or a keys file (one entry a line,
`#` comments), which is re-read when it changes, so revoking a key needs no restart.

The keys file fails closed: a deleted file takes its keys with it (said once in the log),
and an edit with a broken entry keeps the keys the file had, less those it now revokes or
no longer lists. A keys file that group or others may write is served, with a warning.

Keys are 256-bit random tokens made by `new_key`, so a plain SHA-256 is enough to make
the stored hash useless to a thief (there is no password to guess).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import stat
from dataclasses import dataclass, replace
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
    keys, errors = _parse(text, origin)
    if errors:
        raise KeyConfigError(errors[0])
    return keys


def _parse(text: str, origin: str) -> tuple[list[ApiKey], list[str]]:
    """The entries that can be used, and a message for each that cannot."""
    keys: list[ApiKey] = []
    errors: list[str] = []
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    for number, entry in enumerate((e.strip() for line in lines for e in line.split(",")), start=1):
        if not entry:
            continue
        parts = entry.split(":")
        name, digest = parts[0].strip(), parts[1].strip().lower() if len(parts) > 1 else ""
        flags = [p.strip().lower() for p in parts[2:]]
        where = f"{origin}, entry {number} ({name or 'no name'})"
        if not _NAME.match(name):
            errors.append(f"{where}: a key name is letters, digits, '.', '_' or '-' (at most 64)")
        elif not _SHA256.match(digest):
            errors.append(f"{where}: expected name:sha256 with 64 hex digits (the hash of the key, never the key)")
        elif flags not in ([], [REVOKED]):
            errors.append(f"{where}: the only flag after the hash is ':{REVOKED}'")
        else:
            keys.append(ApiKey(name=name, sha256=digest, revoked=bool(flags)))
    return keys, errors


def _warn_if_others_may_write(path: Path, mode: int) -> None:
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        log.warning(
            "Keys file %s is writable by group or others (mode %s): whoever can write it can grant a key; chmod 600 it",
            path,
            oct(stat.S_IMODE(mode)),
        )


def _index(keys: list[ApiKey]) -> dict[str, ApiKey]:
    names = [k.name for k in keys]
    hashes = [k.sha256 for k in keys]
    if len(set(names)) != len(names):
        raise KeyConfigError(
            f"each API key needs its own name; repeated: {sorted({n for n in names if names.count(n) > 1})}"
        )
    if len(set(hashes)) != len(hashes):
        raise KeyConfigError("the same key hash is listed under two names")
    return {k.sha256: k for k in keys}


def _still_granted(previous: list[ApiKey], parsed: list[ApiKey], text: str) -> list[ApiKey]:
    """`previous` after a broken edit: revoked where a readable entry revokes its hash, and
    gone where its hash is nowhere in the file (a deleted line)."""
    revoked = {k.sha256 for k in parsed if k.revoked}
    listed = text.lower()
    return [replace(k, revoked=True) if k.sha256 in revoked else k for k in previous if k.sha256 in listed]


class KeyRing:
    """The keys from the environment and the keys file; the file is re-read when it changes."""

    def __init__(self, env_value: str | None, keys_file: Path | None):
        self._env_keys = parse_entries(env_value or "", KEYS_ENV)
        self._file = keys_file
        self._file_mtime: int | None = None
        self._file_gone = False
        self._file_keys: list[ApiKey] = []
        if keys_file is not None:
            self._file_keys = parse_entries(keys_file.read_text(), str(keys_file))
            st = keys_file.stat()
            self._file_mtime = st.st_mtime_ns
            _warn_if_others_may_write(keys_file, st.st_mode)
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
            st = self._file.stat()
            text = self._file.read_text() if st.st_mtime_ns != self._file_mtime else None
        except FileNotFoundError:
            if not self._file_gone:  # said once, not on every request
                self._file_gone, self._file_mtime = True, None
                self._file_keys, self._by_hash = [], _index(self._env_keys)
                log.warning("Keys file %s is gone: the keys it granted no longer work", self._file)
            return
        except OSError as error:
            if not self._file_gone:
                self._file_gone, self._file_mtime = True, None
                log.error("Keys file unreadable, keeping the previous keys: %s", error)
            return
        if text is None:
            return
        self._file_gone = False
        self._file_mtime = st.st_mtime_ns  # a broken file is reported once, not on every request
        _warn_if_others_may_write(self._file, st.st_mode)
        file_keys, errors = _parse(text, str(self._file))
        try:
            by_hash = _index(self._env_keys + file_keys) if not errors else None
        except KeyConfigError as error:
            errors, by_hash = [str(error)], None
        if by_hash is None:
            # Serve on with the keys we had rather than lock every client out, but honour
            # what the edit clearly meant to take away.
            self._file_keys = _still_granted(self._file_keys, file_keys, text)
            self._by_hash = _index(self._env_keys + self._file_keys)
            log.error(
                "Keys file not reloaded (%s); keeping the keys it had, less those it revokes or no longer lists",
                "; ".join(errors),
            )
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
