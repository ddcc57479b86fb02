"""Rebuild the bundled listing (digest/data/daily_papers.json) from the page capture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from digest.sources.capture import CaptureError, build_snapshot_items
from digest.sources.snapshot import SEEDS_DIR, SNAPSHOT_PATH


class Command(BaseCommand):
    help = "Build the bundled daily_papers JSON from the seeds' page capture and id table."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--page", type=Path, default=SEEDS_DIR / "daily-papers-page.txt")
        parser.add_argument("--ids", type=Path, default=SEEDS_DIR / "arxiv-ids.tsv")
        parser.add_argument("--out", type=Path, default=SNAPSHOT_PATH)

    def handle(self, *args: Any, page: Path, ids: Path, out: Path, **options: Any) -> None:
        try:
            items = build_snapshot_items(
                page.read_text(encoding="utf-8"), ids.read_text(encoding="utf-8")
            )
        except (OSError, CaptureError) as exc:
            raise CommandError(str(exc)) from exc
        out.write_text(json.dumps(items, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        with_id = sum(1 for item in items if "id" in item["paper"])
        self.stdout.write(f"Wrote {len(items)} items ({with_id} with an arXiv id) to {out}")
