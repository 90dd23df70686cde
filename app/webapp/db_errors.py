"""Database failures: a short description, and the 503 answer to a request they fail.

A request that cannot reach the database (PostgreSQL down or restarting, no free
connection in the pool, an unreadable SQLite file) answers ``503`` with a
``Retry-After`` header rather than a bare 500, and is counted under that status in
``http_requests_total``. Other database errors (a broken query) stay 500s.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

logger = logging.getLogger("webapp.database")

UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)
RETRY_AFTER_SECONDS = 5


def describe_error(exc: BaseException) -> str:
    """A short description on one line, without SQL or parameters.

    The driver's own message: neither SQLite nor libpq puts a password in it.
    """
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    if isinstance(exc, TimeoutError):
        return "TimeoutError: the database did not answer in time"
    # libpq's messages run over several lines and indent the hints.
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}"[:200]


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning(
        "%s %s failed, database unavailable: %s",
        request.method,
        request.url.path,
        describe_error(exc),
    )
    return JSONResponse(
        {"detail": "The database is unavailable; try again later."},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def answer_unavailable_with_503(app: FastAPI) -> None:
    for error in UNAVAILABLE:
        app.add_exception_handler(error, database_unavailable)
