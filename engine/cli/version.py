"""The version `python -m engine --version` prints: the installed package's metadata, else pyproject.toml's
`[project] version` (a checkout run in place) — one number, written once."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def version() -> str:
    try:
        return metadata.version("apportion")
    except metadata.PackageNotFoundError:
        with open(PYPROJECT, "rb") as f:
            return str(tomllib.load(f)["project"]["version"])
