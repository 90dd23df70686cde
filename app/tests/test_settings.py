"""Settings: required token, clear errors, env file, release detection."""

import subprocess
from pathlib import Path

import pytest

from webapp import settings as settings_module
from webapp.db import describe_database
from webapp.settings import (
    DatabaseSettings,
    Settings,
    SettingsError,
    detect_release,
    load_settings,
)

TOKEN = "env-token-0123456789abcdef"


@pytest.fixture
def git_checkout(tmp_path: Path) -> tuple[Path, str]:
    """A git repository with one commit, and that commit's 12-character id."""
    repo = tmp_path / "checkout"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "--quiet")
    git("commit", "--quiet", "--allow-empty", "--message", "release")
    return repo, git("rev-parse", "--short=12", "HEAD")


def test_missing_token_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_RELEASE", "r1")
    with pytest.raises(SettingsError) as caught:
        load_settings(Settings)
    message = str(caught.value)
    assert "APP_API_TOKEN is required but not set" in message
    assert "\n" not in message
    # The pydantic error is not chained, so the traceback stays short.
    assert caught.value.__suppress_context__ is True


def test_short_token_is_rejected_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_API_TOKEN", "tiny-secret")
    monkeypatch.setenv("APP_RELEASE", "r1")
    with pytest.raises(SettingsError) as caught:
        load_settings(Settings)
    message = str(caught.value)
    assert "APP_API_TOKEN is invalid (must be at least 16 characters long)" in message
    assert "tiny-secret" not in message
    assert "11" not in message  # not even its length


def test_several_problems_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_LOG_LEVEL", "LOUD")
    monkeypatch.setenv("APP_RELEASE", "r1")
    with pytest.raises(SettingsError) as caught:
        load_settings(Settings)
    assert "APP_API_TOKEN is required" in str(caught.value)
    assert "APP_LOG_LEVEL is invalid" in str(caught.value)


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("APP_API_TOKEN", TOKEN)
    monkeypatch.setenv("APP_NAME", "Notes")
    monkeypatch.setenv("APP_DATABASE_PATH", str(tmp_path / "db.sqlite"))
    monkeypatch.setenv("APP_RELEASE", "2024.1")
    monkeypatch.setenv("APP_LOG_LEVEL", "debug")
    loaded = load_settings(Settings)
    assert loaded.api_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(loaded)
    assert loaded.name == "Notes"
    assert loaded.database_file == tmp_path / "db.sqlite"
    assert loaded.release == "2024.1"
    assert loaded.log_level == "DEBUG"


def test_env_file_from_app_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text(f"APP_API_TOKEN={TOKEN}\nAPP_NAME=From file\nAPP_RELEASE=f1\nOTHER=x\n")
    monkeypatch.setenv("APP_ENV_FILE", str(env_file))
    monkeypatch.setenv("APP_NAME", "From environment")
    loaded = load_settings(Settings)
    assert loaded.api_token.get_secret_value() == TOKEN
    assert loaded.release == "f1"
    assert loaded.name == "From environment"  # the environment wins over the file


def test_dot_env_in_working_directory(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text(f"APP_API_TOKEN={TOKEN}\nAPP_RELEASE=dot\n")
    assert load_settings(Settings).release == "dot"


def test_empty_values_count_as_unset(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text("APP_API_TOKEN=\nAPP_NAME=\nAPP_RELEASE=r\n")
    with pytest.raises(SettingsError, match="APP_API_TOKEN is required"):
        load_settings(Settings)


def test_missing_app_env_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("APP_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("APP_API_TOKEN", TOKEN)
    with pytest.raises(SettingsError, match="APP_ENV_FILE"):
        load_settings(Settings)


def test_database_settings_need_no_token(clean_environment: Path) -> None:
    loaded = load_settings(DatabaseSettings)
    assert loaded.database_file == clean_environment / "var" / "app.db"


def test_release_from_environment_wins_over_git(
    monkeypatch: pytest.MonkeyPatch, git_checkout: tuple[Path, str]
) -> None:
    monkeypatch.setattr(settings_module, "APP_DIR", git_checkout[0])
    monkeypatch.setenv("APP_API_TOKEN", TOKEN)
    monkeypatch.setenv("APP_RELEASE", "from-env")
    assert load_settings(Settings).release == "from-env"


def test_release_from_git_when_unset(
    monkeypatch: pytest.MonkeyPatch, git_checkout: tuple[Path, str]
) -> None:
    repo, commit = git_checkout
    monkeypatch.setattr(settings_module, "APP_DIR", repo)
    monkeypatch.setenv("APP_API_TOKEN", TOKEN)
    assert len(commit) == 12
    assert load_settings(Settings).release == commit


def test_release_unknown_outside_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setattr(settings_module, "APP_DIR", plain)
    monkeypatch.setenv("APP_API_TOKEN", TOKEN)
    assert load_settings(Settings).release == "unknown"


def test_release_unknown_without_git_binary(
    monkeypatch: pytest.MonkeyPatch, git_checkout: tuple[Path, str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert detect_release(git_checkout[0]) == "unknown"


SECRET = "hunter2-Secret"
TLS_URL = (
    f"postgresql://webapp:{SECRET}@db.example.com:5432/notes"
    "?sslmode=verify-full&sslrootcert=/etc/ssl/certs/db-ca.pem"
)


@pytest.mark.parametrize(
    "scheme", ["postgresql", "postgresql+psycopg", "postgresql+asyncpg", "PostgreSQL"]
)
def test_database_url_is_used_through_psycopg(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    monkeypatch.setenv("APP_DATABASE_URL", TLS_URL.replace("postgresql", scheme, 1))
    loaded = load_settings(DatabaseSettings)
    url = loaded.postgresql_url
    assert url is not None
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "webapp",
        SECRET,
        "db.example.com",
        5432,
        "notes",
    )
    assert dict(url.query) == {"sslmode": "verify-full", "sslrootcert": "/etc/ssl/certs/db-ca.pem"}
    assert SECRET not in repr(loaded)
    assert SECRET not in str(loaded)
    assert describe_database(loaded) == "postgresql+psycopg://webapp@db.example.com:5432/notes"


def test_database_url_wins_over_the_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("APP_DATABASE_PATH", str(tmp_path / "app.db"))
    monkeypatch.setenv("APP_DATABASE_URL", "postgresql://webapp@/notes?host=/run/postgresql")
    loaded = load_settings(DatabaseSettings)
    assert describe_database(loaded) == "postgresql+psycopg://webapp@/notes"
    assert loaded.postgresql_url is not None
    assert loaded.postgresql_url.query == {"host": "/run/postgresql"}


def test_sqlite_without_a_database_url(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text("APP_DATABASE_URL=\n")
    loaded = load_settings(DatabaseSettings)
    assert loaded.postgresql_url is None
    assert describe_database(loaded) == str(clean_environment / "var" / "app.db")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            f"mysql://webapp:{SECRET}@db/notes",
            "must start with postgresql://, postgresql+psycopg:// or postgresql+asyncpg://, "
            "not mysql://;",
        ),
        (
            f"sqlite:///{SECRET}.db",
            "not sqlite://; leave it unset to use the SQLite file at APP_DATABASE_PATH)",
        ),
        (f"webapp:{SECRET}@db/notes", "must be a URL starting with postgresql://"),
        (f"webapp:{SECRET}@db://notes", "must be a URL starting with postgresql://"),
        (f"postgresql://webapp:{SECRET}@db:port/notes", "is not a well-formed URL"),
        (f"postgresql://webapp:{SECRET}@2@db/notes", "percent-encode it in the password as %40"),
        (
            f"postgresql+asyncpg://webapp:{SECRET}@db/notes?ssl=require",
            "unknown connection parameter ssl: the query takes libpq's parameters",
        ),
        (f"{TLS_URL.replace('verify-full', SECRET)}", "sslmode must be one of disable, allow,"),
        (f"{TLS_URL}&connect_timeout=soon", "connect_timeout must be a whole number of seconds"),
    ],
    ids=[
        "mysql",
        "sqlite",
        "no-scheme",
        "no-scheme-but-colon-slashes",
        "bad-port",
        "at-in-password",
        "asyncpg-ssl",
        "sslmode",
        "connect-timeout",
    ],
)
def test_invalid_database_url_is_named_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("APP_DATABASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load_settings(DatabaseSettings)
    message = str(caught.value)
    assert "APP_DATABASE_URL is invalid (" in message
    assert problem in message
    assert SECRET not in message
    assert caught.value.__suppress_context__ is True


@pytest.mark.parametrize("size", ["0", "101", "many"])
def test_pool_size_is_checked(monkeypatch: pytest.MonkeyPatch, size: str) -> None:
    monkeypatch.setenv("APP_DATABASE_POOL_SIZE", size)
    with pytest.raises(SettingsError, match=r"APP_DATABASE_POOL_SIZE is invalid"):
        load_settings(DatabaseSettings)
