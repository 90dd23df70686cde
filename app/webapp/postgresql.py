"""PostgreSQL: checking APP_DATABASE_URL, and the engine several servers can share.

The application talks to PostgreSQL through psycopg 3, which wraps libpq: one package
for the migrations (synchronous) and the application (asynchronous), and the URL's
query takes libpq's connection parameters (``sslmode``, ``sslrootcert``,
``connect_timeout``, ...) as they are.
"""

import re
from collections.abc import Mapping

from psycopg.pq import Conninfo
from sqlalchemy import URL, Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# What APP_DATABASE_URL may start with. Whatever the driver named, psycopg is used.
SCHEMES = ("postgresql", "postgresql+psycopg", "postgresql+asyncpg")
DRIVER = "postgresql+psycopg"
# What the scheme of any URL looks like (RFC 3986), so that only a scheme is echoed.
SCHEME_SYNTAX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

# Seconds to wait for a new connection (libpq's minimum is 2), unless the URL sets
# connect_timeout: a stopped or unreachable server fails requests fast, not after
# the kernel's TCP timeout of minutes.
CONNECT_TIMEOUT = 5
# Seconds a request waits for a free connection when all of the pool's are busy.
POOL_TIMEOUT = 10
# The key of the advisory lock the migrations hold, as SQL.
MIGRATION_LOCK = "hashtext('webapp migrations')"


class InvalidDatabaseURL(ValueError):
    """APP_DATABASE_URL is unusable; the message never contains the URL or its values."""


def libpq_parameters() -> frozenset[str]:
    """The connection parameters the installed libpq knows."""
    return frozenset(option.keyword.decode() for option in Conninfo.get_defaults())


def _check_query(query: Mapping[str, str | tuple[str, ...]]) -> None:
    known = libpq_parameters()
    unknown = sorted(name for name in query if name not in known)
    if unknown:
        raise InvalidDatabaseURL(
            f"unknown connection parameter {', '.join(unknown)}: the query takes libpq's "
            "parameters, such as sslmode=verify-full&sslrootcert=/path/to/ca.pem"
        )
    if "sslmode" in query and query["sslmode"] not in SSL_MODES:
        raise InvalidDatabaseURL(f"sslmode must be one of {', '.join(SSL_MODES)}")
    if "connect_timeout" in query:
        timeout = query["connect_timeout"]
        if not (isinstance(timeout, str) and timeout.isdigit()):
            raise InvalidDatabaseURL("connect_timeout must be a whole number of seconds")


def parse_database_url(raw: str) -> URL:
    """Parse APP_DATABASE_URL, or raise :class:`InvalidDatabaseURL`.

    The error messages name the scheme and parameter names at most, never the values,
    as the URL may hold a password (in its user part or as ``?password=``).
    """
    scheme, separator, _ = raw.partition("://")
    if not separator or not SCHEME_SYNTAX.fullmatch(scheme):
        raise InvalidDatabaseURL("must be a URL starting with postgresql://")
    if scheme.lower() not in SCHEMES:
        *others, last = (f"{name}://" for name in SCHEMES)
        raise InvalidDatabaseURL(
            f"must start with {', '.join(others)} or {last}, not {scheme}://; "
            "leave it unset to use the SQLite file at APP_DATABASE_PATH"
        )
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise InvalidDatabaseURL("is not a well-formed URL") from None
    if url.host is not None and "@" in url.host:
        # Else part of the password would show as the host name in errors and logs.
        raise InvalidDatabaseURL(
            "has an @ after the password: percent-encode it in the password as %40"
        )
    _check_query(url.query)
    return url.set(drivername=DRIVER)


def describe(url: URL) -> str:
    """The URL for logs: user, host, port and database, without password or query."""
    return URL.create(
        url.drivername,
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
    ).render_as_string(hide_password=True)


def connect_args(url: URL) -> dict[str, object]:
    """Connection parameters added to the URL's: the connect timeout, unless it has one."""
    return {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT}


def create_engine(url: URL, pool_size: int) -> AsyncEngine:
    """The application's engine: at most ``pool_size`` connections per process.

    ``pool_pre_ping`` checks each connection as it is taken from the pool, so after a
    restart of PostgreSQL the stale connections are replaced before a request uses
    them; the first request after the restart is served, not failed.
    """
    return create_async_engine(
        url,
        connect_args=connect_args(url),
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT,
    )


def lock_migrations(connection: Connection) -> None:
    """Wait for, then hold until the transaction ends, the database's migration lock.

    A deploy runs the migrations on every application server, at the same time; with
    one database for all, the lock makes them run one after the other, and the later
    ones find the schema up to date. An advisory lock: it locks no table.
    """
    connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
