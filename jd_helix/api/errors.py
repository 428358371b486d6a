"""Errors as RFC 9457 problem details, and the handlers that make every failure one.

Anything a client sends that the API cannot use is a 4xx with a message naming the
parameter; a 500 would be a bug of ours (and is logged with its traceback).
"""

from __future__ import annotations

import logging
from typing import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ParameterError(BaseModel):
    parameter: str
    message: str


class Problem(BaseModel):
    status: int
    title: str
    detail: str
    errors: list[ParameterError] = []


class ApiError(Exception):
    def __init__(self, status: int, title: str, detail: str, errors=(), headers: dict | None = None):
        super().__init__(detail)
        self.problem = Problem(status=status, title=title, detail=detail, errors=list(errors))
        self.headers = headers


def bad_parameter(parameter: str, message: str) -> ApiError:
    return ApiError(400, "Bad request", f"{parameter}: {message}", [ParameterError(parameter=parameter, message=message)])


def not_found(detail: str) -> ApiError:
    return ApiError(404, "Not found", detail)


def _respond(problem: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem.model_dump(), status_code=problem.status, headers=headers)


def _parameter_name(location: tuple) -> str:
    # ("query", "limit") -> "limit"; a body or header error keeps its whole path
    return ".".join(str(part) for part in location[1:]) or str(location[0]) if location else "request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return _respond(error.problem, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            ParameterError(parameter=_parameter_name(tuple(e.get("loc", ()))), message=str(e.get("msg", "invalid")))
            for e in error.errors()
        ]
        detail = "; ".join(f"{e.parameter}: {e.message}" for e in errors) or "invalid request"
        return _respond(Problem(status=400, title="Bad request", detail=detail, errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return _respond(Problem(status=error.status_code, title=str(error.detail), detail=str(error.detail)), error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("Unexpected error on %s %s", request.method, request.url.path)
        return _respond(Problem(status=500, title="Internal error", detail="An unexpected error; it has been logged."))
