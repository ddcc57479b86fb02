"""Ingest benchmark: a synthetic 10,000-paper Hugging Face day served by a local HTTP server.

Prints papers per second and queries issued for a first fetch (all new) and a second fetch of the
same listing (must write nothing). Target: 10,000 papers in under 10 s, queries per page constant.
Usage: python bench/ingest.py [--papers 10000]  (DATABASE_URL=postgres://... to use PostgreSQL)
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from support.django_env import peak_rss_mb, setup
from support.http_server import serve as serve_http

DAY = date(2026, 11, 24)
PAGE = 100


def synthetic_items(count: int) -> list[dict[str, object]]:
    return [
        {
            "paper": {
                "id": f"2611.{n:05d}",
                "title": f"Synthetic paper {n} on diffusion transformers",
                "summary": "We study scaling laws of diffusion transformers. " * 12,
                "authors": [{"name": f"Author {n} {k}", "hidden": False} for k in range(5)],
                "publishedAt": "2026-11-23T17:00:00.000Z",
                "upvotes": n % 97,
                "ai_keywords": ["diffusion", "transformer", "scaling"],
            },
            "title": f"Synthetic paper {n} on diffusion transformers",
            "numComments": n % 7,
            "thumbnail": f"https://cdn.example.org/{n}.png",
        }
        for n in range(count)
    ]


def serve(items: list[dict[str, object]]) -> ThreadingHTTPServer:
    """The daily papers API, `PAGE` items per page (`?p=` is the page)."""

    def answer(path: str) -> tuple[bytes, str]:
        page = int(parse_qs(urlsplit(path).query).get("p", ["0"])[0])
        return json.dumps(items[page * PAGE : (page + 1) * PAGE]).encode(), "application/json"

    return serve_http(answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=10_000)
    args = parser.parse_args()
    setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from digest.papers.fetching import listing_fetch

    server = serve(synthetic_items(args.papers))
    settings.HF_PAPERS_URL = f"http://127.0.0.1:{server.server_port}/api/daily_papers"
    pages = -(-args.papers // PAGE)
    print(f"database: {connection.vendor}; {args.papers} papers in {pages} pages of {PAGE}")
    for label in ("first fetch", "second fetch (same listing)"):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            run, result = listing_fetch(source="hf", day=DAY)
        elapsed = time.perf_counter() - started
        assert result is not None, run.error
        writes = sum(
            1 for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))
        )
        print(
            f"{label}: {args.papers / elapsed:,.0f} papers/s ({elapsed:.2f} s); "
            f"{result.summary()}; {len(queries.captured_queries)} queries "
            f"({len(queries.captured_queries) / pages:.1f} per page of {PAGE}), "
            f"{writes} writes incl. the fetch-run row"
        )
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    server.shutdown()


if __name__ == "__main__":
    main()
