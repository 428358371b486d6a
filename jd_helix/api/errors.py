"""Errors as RFC 9457 problem details, and the handlers that make every failure one.

Anything a client sends that the API cannot use is a 4xx with a message naming the
parameter; a 500 would be a bug of ours (and is logged with its traceback). Every problem
is sent as `application/problem+json` with a `type`: `urn:jd-helix:problem:<kind>` for the
API's own kinds (the README lists them), `about:blank` where the status says it all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ParameterError(BaseModel):
    parameter: str
    message: str


PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:jd-helix:problem:"


class Problem(BaseModel):
    type: str = Field(default="about:blank", examples=[f"{TYPE_PREFIX}bad-parameter"])
    status: int
    title: str
    detail: str
    errors: list[ParameterError] = []


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_type(kind: str | None) -> str:
    return f"{TYPE_PREFIX}{kind}" if kind else "about:blank"


class ApiError(Exception):
    def __init__(
        self, status: int, title: str, detail: str, errors=(), headers: dict | None = None, kind: str | None = None
    ):
        super().__init__(detail)
        self.problem = Problem(type=problem_type(kind), status=status, title=title, detail=detail, errors=list(errors))
        self.headers = headers


def bad_parameter(parameter: str, message: str) -> ApiError:
    return ApiError(
        400,
        "Bad request",
        f"{parameter}: {message}",
        [ParameterError(parameter=parameter, message=message)],
        kind="bad-parameter",
    )


def not_found(detail: str) -> ApiError:
    return ApiError(404, "Not found", detail, kind="not-found")


def respond(problem: Problem, headers: Mapping[str, str] | None = None) -> ProblemResponse:
    return ProblemResponse(problem.model_dump(), status_code=problem.status, headers=headers)


def _parameter_name(location: tuple) -> str:
    # ("query", "limit") -> "limit"; a body or header error keeps its whole path
    return ".".join(str(part) for part in location[1:]) or str(location[0]) if location else "request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return respond(error.problem, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            ParameterError(parameter=_parameter_name(tuple(e.get("loc", ()))), message=str(e.get("msg", "invalid")))
            for e in error.errors()
        ]
        detail = "; ".join(f"{e.parameter}: {e.message}" for e in errors) or "invalid request"
        return respond(
            Problem(type=problem_type("bad-parameter"), status=400, title="Bad request", detail=detail, errors=errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return respond(
            Problem(status=error.status_code, title=str(error.detail), detail=str(error.detail)), error.headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("Unexpected error on %s %s", request.method, request.url.path)
        return respond(
            Problem(
                type=problem_type("internal-error"),
                status=500,
                title="Internal error",
                detail="An unexpected error; it has been logged.",
            )
        )
