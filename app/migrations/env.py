"""Alembic environment: migrate the database the application uses.

That is the PostgreSQL server named by APP_DATABASE_URL if set, else the SQLite file
at APP_DATABASE_PATH. Only the database settings are loaded, so migrating needs no
API token.
"""

from logging.config import fileConfig

from alembic import context

from webapp.db import create_migration_engine, migration_url
from webapp.models import Base
from webapp.postgresql import lock_migrations
from webapp.settings import DatabaseSettings, load_settings

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade head --sql``)."""
    url = migration_url(load_settings(DatabaseSettings))
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_migration_engine(load_settings(DatabaseSettings))
    try:
        with engine.connect() as connection:
            # SQLite alters most columns by copying the table (batch mode); PostgreSQL
            # alters them in place.
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    lock_migrations(connection)
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
