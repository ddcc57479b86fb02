"""The bundled listing: real papers in the `daily_papers` shape, so the demo needs no network."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

from digest.sources.hf import parse_hf_items
from digest.sources.http import FetchError
from digest.sources.records import Listing

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SEEDS_DIR = DATA_DIR / "seeds"
SNAPSHOT_PATH = DATA_DIR / "daily_papers.json"


def load_snapshot(*, listed_on: date, path: Path = SNAPSHOT_PATH) -> Listing:
    """Every paper of the snapshot, as listed on `listed_on` (the demo always has a fresh day)."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FetchError(f"cannot read the snapshot {path}: {exc}") from exc
    if not isinstance(items, list):
        raise FetchError(f"the snapshot {path} is not a JSON array")
    listing = parse_hf_items(items, listed_on=listed_on)
    listing.records[:] = [replace(record, source="snapshot") for record in listing.records]
    return listing
