"""The database the settings name, SQLite or PostgreSQL: engines and sessions."""

from sqlalchemy import URL, Engine, NullPool
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from webapp import postgresql, sqlite
from webapp.settings import DatabaseSettings


def describe_database(settings: DatabaseSettings) -> str:
    """The database for logs: the SQLite file, or the server's URL without the password."""
    url = settings.postgresql_url
    return str(settings.database_file) if url is None else postgresql.describe(url)


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """The application's async engine, one per process."""
    url = settings.postgresql_url
    if url is None:
        return sqlite.create_engine(settings.database_file)
    return postgresql.create_engine(url, settings.database_pool_size)


def migration_url(settings: DatabaseSettings) -> URL:
    """The URL the migrations use, which may create the SQLite file."""
    url = settings.postgresql_url
    return sqlite.migration_database_url(settings.database_file) if url is None else url


def create_migration_engine(settings: DatabaseSettings) -> Engine:
    """A synchronous engine for the migrations; makes the SQLite file's directory."""
    url = settings.postgresql_url
    if url is None:
        path = settings.database_file
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_sync_engine(sqlite.migration_database_url(path))
        sqlite.install_sqlite_pragmas(engine)
        return engine
    return create_sync_engine(url, connect_args=postgresql.connect_args(url), poolclass=NullPool)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (needed to serialise them)."""
    return async_sessionmaker(engine, expire_on_commit=False)
