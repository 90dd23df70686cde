"""taskboard: a tiny task board served by FastAPI."""

__version__ = "0.3.0"
