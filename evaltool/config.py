"""Where evaltool keeps its files, read from the environment."""

import os
from pathlib import Path

DATABASE_URL_ENV = "EVALTOOL_DATABASE_URL"
HOME_ENV = "EVALTOOL_HOME"


def home() -> Path:
    """Directory of evaltool's local state (the embedded server): $EVALTOOL_HOME or ./.evaltool."""
    return Path(os.environ.get(HOME_ENV) or ".evaltool").expanduser().resolve()


def database_url_from_env() -> str | None:
    """The database named by $EVALTOOL_DATABASE_URL, or None to use the embedded server."""
    return os.environ.get(DATABASE_URL_ENV) or None


def data_dir(name: str) -> Path:
    """The `sql`, `migrations` or `reports` folder: packaged inside a wheel, else the
    source tree's."""
    packaged = Path(__file__).parent / "_data" / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).parent.parent / name
