"""Configuration read from ``APP_*`` environment variables and an optional env file."""

import os
import subprocess
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import URL

from webapp.postgresql import InvalidDatabaseURL, parse_database_url

# The directory holding the ``webapp`` package: a checkout or a deployed release.
APP_DIR = Path(__file__).resolve().parent.parent

ENV_PREFIX = "APP_"
MIN_TOKEN_LENGTH = 16
ENV_FILE_VARIABLE = "APP_ENV_FILE"
DEFAULT_ENV_FILE = ".env"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class SettingsError(RuntimeError):
    """The configuration is missing or invalid; the message names the variables."""


def detect_release(directory: Path) -> str:
    """Return the short commit id of the git checkout at ``directory``, or ``"unknown"``."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607 (git from PATH)
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def _release_from_git() -> str:
    return detect_release(APP_DIR)


class DatabaseSettings(BaseSettings):
    """What the database migrations need: where the database is, and nothing else.

    The SQLite file at ``database_path``, unless ``database_url`` names a PostgreSQL
    server. That URL may hold a password: it is a SecretStr, and only
    :func:`webapp.postgresql.describe` (which leaves the password out) shows it.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=DEFAULT_ENV_FILE,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    database_path: Path = Path("var/app.db")
    database_url: SecretStr | None = None
    # Connections to PostgreSQL each process may hold; the server must allow this
    # times the number of workers on every application server.
    database_pool_size: int = Field(default=5, ge=1, le=100)

    @field_validator("database_url")
    @classmethod
    def postgresql_only(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None:
            try:
                parse_database_url(url.get_secret_value())
            except InvalidDatabaseURL as exc:
                raise PydanticCustomError("database_url", str(exc)) from None
        return url

    @property
    def database_file(self) -> Path:
        """The SQLite file as an absolute path (a relative one is relative to the cwd)."""
        return self.database_path.expanduser().resolve()

    @property
    def postgresql_url(self) -> URL | None:
        """The PostgreSQL server's URL, for psycopg; None when the SQLite file is used."""
        if self.database_url is None:
            return None
        return parse_database_url(self.database_url.get_secret_value())


class Settings(DatabaseSettings):
    """Everything the web application needs."""

    name: str = Field(default="FastAPI Kit demo", min_length=1, max_length=200)
    api_token: SecretStr
    release: str = Field(default_factory=_release_from_git, min_length=1, max_length=100)
    log_level: LogLevel = "INFO"
    health_timeout: float = Field(default=2.0, gt=0, le=60)

    @field_validator("log_level", mode="before")
    @classmethod
    def upper_case_level(cls, level: object) -> object:
        return level.upper() if isinstance(level, str) else level

    @field_validator("api_token")
    @classmethod
    def token_long_enough(cls, token: SecretStr) -> SecretStr:
        # Checked here rather than with min_length, whose message gives the actual length.
        if len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise PydanticCustomError(
                "token_too_short", f"must be at least {MIN_TOKEN_LENGTH} characters long"
            )
        return token


def env_file_path() -> Path:
    """The env file to read: ``$APP_ENV_FILE`` if set, else ``.env`` in the cwd."""
    return Path(os.environ.get(ENV_FILE_VARIABLE) or DEFAULT_ENV_FILE)


def _describe(error: ErrorDetails) -> str:
    field = str(error["loc"][0]) if error["loc"] else "?"
    variable = f"{ENV_PREFIX}{field.upper()}"
    if error["type"] == "missing":
        return f"{variable} is required but not set"
    # The message only: pydantic's full text echoes the input, which may be the secret.
    return f"{variable} is invalid ({error['msg']})"


SettingsT = TypeVar("SettingsT", bound=DatabaseSettings)


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """Build ``settings_class`` from the environment and env file, or raise SettingsError."""
    env_file = env_file_path()
    must_exist = ENV_FILE_VARIABLE in os.environ or env_file.exists()
    if must_exist and not (env_file.is_file() and os.access(env_file, os.R_OK)):
        raise SettingsError(
            f"Invalid configuration: the env file {env_file} (from {ENV_FILE_VARIABLE} "
            "or the default .env) is not a readable file."
        )
    try:
        return settings_class(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise SettingsError(
            f"Invalid configuration: {problems}. Set the variables in the environment "
            f"or in the env file ({env_file}; choose another with {ENV_FILE_VARIABLE}), "
            "see .env.example."
        ) from None
