"""Time zones a reader may choose: every place's IANA name, typed in any case."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

# Files of the system's zoneinfo directory that are not a place's time zone.
_NOT_A_PLACE = frozenset({"Factory", "localtime", "posixrules"})
# The IANA areas of the region/city names offered in the list (not the old aliases such as
# "US/Eastern" or "Brazil/East", which are still accepted: a browser may report one).
_AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe"}
    | {"Indian", "Pacific"}
)


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Every time zone name a reader may save."""
    return frozenset(zoneinfo.available_timezones()) - _NOT_A_PLACE


@lru_cache(maxsize=1)
def _time_zones_folded() -> dict[str, str]:
    return {name.casefold(): name for name in time_zones()}


def time_zone_named(name: str) -> str | None:
    """The time zone a reader means, whatever its case ("europe/berlin"), or None."""
    return _time_zones_folded().get(name.strip().casefold())


@lru_cache(maxsize=1)
def time_zone_suggestions() -> tuple[str, ...]:
    """The names the form suggests, in alphabetical order: UTC and every region/city."""
    places = (name for name in time_zones() if name.split("/", 1)[0] in _AREAS)
    return ("UTC", *sorted(places))
