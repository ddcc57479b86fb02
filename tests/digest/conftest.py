from __future__ import annotations

from datetime import date

import pytest

from digest.ingest import papers_upsert
from digest.sources.snapshot import load_snapshot

DAY = date(2026, 11, 24)  # a Tuesday


@pytest.fixture
def snapshot_day(db):
    """The bundled listing (57 real papers) loaded as listed on DAY."""
    papers_upsert(records=load_snapshot(listed_on=DAY).records, listed_on=DAY)
    return DAY
