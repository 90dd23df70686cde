"""Settings, read from ``TASKBOARD_*`` environment variables only."""

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "TASKBOARD_"


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True)

    db_path: Path
    greeting: str = "Hello from taskboard"
    worker_interval: float = Field(default=0.5, gt=0, le=60)


def load_settings() -> Settings:
    """Read the settings from the environment, or raise ConfigError naming the variables."""
    try:
        return Settings()  # type: ignore[call-arg]  # filled from the environment
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = ENV_PREFIX + str(error["loc"][0]).upper()
            if error["type"] == "missing":
                problems.append(f"{variable} must be set")
            else:
                problems.append(f"{variable} is invalid: {error['msg']}")
        raise ConfigError("taskboard configuration error: " + "; ".join(problems)) from None
