"""Configuration from environment variables."""

import os
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///./classic.db"


def sqlite_path(url: str) -> Path:
    """Return the file of a ``sqlite:///relative.db`` or ``sqlite:////absolute/path.db`` URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise RuntimeError(f"DATABASE_URL must be a sqlite URL like sqlite:////srv/data/app.db, not {url!r}")
    path = url[len(prefix) :].split("?", 1)[0]
    if not path or path == ":memory:":
        raise RuntimeError("DATABASE_URL must name a database file")
    return Path(path)


DATABASE_URL = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
DATABASE_PATH = sqlite_path(DATABASE_URL)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY environment variable is not set")
