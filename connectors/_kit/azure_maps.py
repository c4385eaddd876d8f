"""Azure lookups derived from microsoft/finops-toolkit `src/open-data` (Regions.csv, Services.csv), MIT licence,
Copyright (c) Microsoft Corporation. The entries live in `azure_maps.tsv` beside this module, written by
`make_azure_maps.py` (`python -m connectors._kit.make_azure_maps`; `--check` tells whether it is up to date):
regenerate it rather than edit it.

REGIONS: raw location (lower case) -> (RegionId, RegionName). SERVICES_BY_TYPE: ARM resource type -> (ServiceName,
ServiceCategory). SERVICES_BY_CONSUMED: ConsumedService -> (ServiceName or None when several, ServiceCategory), only
where the toolkit maps it to one category.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import NamedTuple

from engine.errors import ConfigError

__all__ = ["REGIONS", "SERVICES_BY_CONSUMED", "SERVICES_BY_TYPE"]

DATA_FILE = "azure_maps.tsv"
COLUMNS = "map\tkey\tvalue1\tvalue2"
MAPS = ("REGIONS", "SERVICES_BY_TYPE", "SERVICES_BY_CONSUMED")


class AzureMaps(NamedTuple):
    regions: dict[str, tuple[str, str]]
    services_by_type: dict[str, tuple[str, str]]
    services_by_consumed: dict[str, tuple[str | None, str]]


def parse(text: str, source: str = DATA_FILE) -> AzureMaps:
    """The three maps from the data file's text: `#` lines, then the column line, then one entry a line."""
    maps = AzureMaps({}, {}, {})
    seen: dict[str, set[str]] = {name: set() for name in MAPS}
    lines = [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]
    start = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    if start == len(lines) or lines[start] != COLUMNS:
        raise ConfigError(f"{source}: expected the column line {COLUMNS!r} after the comments")
    for n, line in enumerate(lines[start + 1:], start=start + 2):
        fields = line.split("\t")
        if len(fields) != 4:
            raise ConfigError(f"{source} line {n}: {len(fields)} tab-separated fields, expected 4")
        name, key, value1, value2 = fields
        if name not in MAPS:
            raise ConfigError(f"{source} line {n}: unknown map {name!r} (expected one of {', '.join(MAPS)})")
        if key in seen[name]:
            raise ConfigError(f"{source} line {n}: {name} lists {key!r} twice")
        seen[name].add(key)
        if not value2 or (not value1 and name != "SERVICES_BY_CONSUMED"):
            raise ConfigError(f"{source} line {n}: {name} {key!r} has an empty value")
        if name == "REGIONS":
            maps.regions[key] = (value1, value2)
        elif name == "SERVICES_BY_TYPE":
            maps.services_by_type[key] = (value1, value2)
        else:
            maps.services_by_consumed[key] = (value1 or None, value2)
    return maps


@cache
def load() -> AzureMaps:
    """The maps in the data file shipped with this package, read once."""
    text = resources.files("connectors._kit").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return parse(text)


REGIONS: dict[str, tuple[str, str]] = load().regions
SERVICES_BY_TYPE: dict[str, tuple[str, str]] = load().services_by_type
SERVICES_BY_CONSUMED: dict[str, tuple[str | None, str]] = load().services_by_consumed
