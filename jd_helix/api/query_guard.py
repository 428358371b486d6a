"""A query parameter the endpoint does not take is a 400, not silently ignored.

A typo (`storeid=S1`) would otherwise answer every store's rows as if they were S1's.
A parameter given twice is refused too: which one was meant cannot be known.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from jd_helix.api.errors import bad_parameter

_accepted: dict[int, frozenset[str]] = {}  # per route, computed once


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


def _parameters_of(route: APIRoute) -> frozenset[str]:
    names = _accepted.get(id(route))
    if names is None:
        names = _accepted[id(route)] = frozenset(_query_names(route.dependant))
    return names


async def reject_unknown_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    accepted = _parameters_of(route)
    for name in request.query_params:
        if name not in accepted:
            takes = ", ".join(sorted(accepted)) or "no parameters"
            raise bad_parameter(name, f"is not a parameter of this endpoint (it takes {takes})")
        if len(request.query_params.getlist(name)) > 1:
            raise bad_parameter(name, "is given more than once")
