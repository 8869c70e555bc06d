"""What every config route shares: a route class whose 422s can always be rendered, and the
helpers that turn semantic problems (a name already taken, a step that does not exist) into
the same 422 shape FastAPI uses for schema errors.

FastAPI's own 422 echoes the offending input; JSON allows a lone surrogate (`"\\ud800"`) that
UTF-8 cannot encode, so echoing it raised a 500. `SafeRoute` replaces such characters in the
echoed errors before they are rendered.
"""

from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError

from postroom_api.schemas.common import ID_PATTERN, Problem
from postroom_shared.models import utcnow

__all__ = [
    "CONFLICT",
    "NOT_FOUND",
    "UNPROCESSABLE",
    "PathId",
    "Problem",
    "SafeRoute",
    "conflict",
    "from_validation_error",
    "not_found",
    "now",
    "unprocessable",
]

PathId = Annotated[str, Path(pattern=ID_PATTERN, description="The resource's id.")]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such resource."}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Conflicts with the stored state (name taken, still in use...)."}
}
UNPROCESSABLE: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid input: `detail` lists each field (`loc`) and the reason."}
}


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return _printable(str(value))


class SafeRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def safe(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError(_printable(list(exc.errors()))) from None

        return safe


def unprocessable(problems: Sequence[Problem]) -> RequestValidationError:
    """A 422 in FastAPI's shape, `loc` starting with "body" like schema errors."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", *loc), "msg": msg} for loc, msg in problems]
    )


def from_validation_error(
    exc: ValidationError, prefix: tuple[str, ...] = ()
) -> RequestValidationError:
    """A pydantic error raised by a model the route built (a merged PATCH) as a 422."""
    return unprocessable(
        [((*prefix, *error["loc"]), error["msg"]) for error in exc.errors(include_input=False)]
    )


def now() -> datetime:
    """The current time at the precision both stores keep (MongoDB: milliseconds), so what a
    write returns equals what a later read returns."""
    at = utcnow()
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)


def conflict(why: str) -> HTTPException:
    return HTTPException(status_code=409, detail=why)
