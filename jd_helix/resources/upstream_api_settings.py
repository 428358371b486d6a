"""The four settings that say which JD API and which Helix the pipeline talks to.

They come as a set: all four (a real deployment, or the sandbox that `make run` starts
and points them at when none is set), never some of them. A half configuration is refused
before any request, naming what is missing, so that real sales can never go to a sandbox
(or anywhere else) by default.
"""

from __future__ import annotations

from collections.abc import Mapping

API_SETTINGS = ("JD_API_BASE_URL", "JD_API_KEY", "VERKADA_API_BASE_URL", "VERKADA_API_KEY")


class HalfConfiguredError(RuntimeError):
    """Some API settings are set and others are not."""


def api_settings_given(environment: Mapping[str, str | None]) -> list[str]:
    return [name for name in API_SETTINGS if environment.get(name)]


def check_api_settings(environment: Mapping[str, str | None]) -> None:
    """Refuse a half configuration (some of the four set, not all), naming the missing ones."""
    given = api_settings_given(environment)
    missing = [name for name in API_SETTINGS if name not in given]
    if given and missing:
        raise HalfConfiguredError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set, but "
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'}: set all four API settings "
            "(.env or the environment), or none of them to use the built-in sandbox with `make run`."
        )
