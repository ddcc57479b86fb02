"""Followed papers benchmark: the daily refresh's requests, then what the updates add to a build.

Sets up a 1,000-paper day and its readers (as bench/digest_build.py), plus `--followed` older
papers followed by those readers (1 to 3 each, every paper followed). A local stand-in answers
both APIs (Hugging Face `/api/papers/<id>`, arXiv `id_list`) and counts the requests; some
papers have changed (a new version, code, a project page, upvotes past a threshold, a Daily
Papers listing, a few withdrawals). The refresh runs as beat runs it, 24 hourly shares, then
once more the same day (which must ask nothing). Then every reader's digest is built twice the
way a send batch builds it: with the updates section and without it.
Targets: at most one Hugging Face request per followed paper a day and one arXiv request per 100;
the build of 100,000 digests under 60 s.
Usage: python bench/follow_refresh.py [--followed 10000] [--subscribers 100000] [--no-build]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from digest_build import DAY, build_slice, make_papers, make_subscribers
from support.django_env import peak_rss_mb, setup
from support.http_server import serve as serve_http

FIRST = 10_000  # followed papers are 2610.<FIRST + n> (five digits), older than the day
_ID = re.compile(r"2610\.(\d+)")


def changed_hf(n: int) -> dict[str, object]:
    """The paper endpoint's answer for followed paper n (the `paper` object's shape)."""
    body: dict[str, object] = {
        "id": f"2610.{FIRST + n}",
        "title": f"Followed paper {n}",
        "summary": "An older paper that readers follow. " * 8,
        "authors": [{"name": f"Author {n} {k}", "hidden": False} for k in range(3)],
        "publishedAt": "2026-10-20T17:00:00.000Z",
        "upvotes": n % 9 + (60 if n % 50 == 0 else 0),  # passes 10 and 50: one event
        "numComments": 1,
    }
    if n % 25 == 0:
        body["githubRepo"] = f"https://github.com/lab-{n}/code"
        body["githubStars"] = n % 300
    if n % 40 == 0:
        body["projectPage"] = f"https://lab-{n}.github.io/"
    if n % 100 == 1:
        body["submittedOnDailyAt"] = "2026-11-24T08:00:00.000Z"
    return body


def arxiv_entry(n: int) -> str:
    version = 2 if n % 20 == 0 else 1
    withdrawn = n % 1000 == 999
    comment = "This paper has been withdrawn" if withdrawn else ("v2: new results" * (version - 1))
    return (
        f"<entry><id>http://arxiv.org/abs/2610.{FIRST + n}v{version + withdrawn}</id>"
        f"<title>Followed paper {n}</title><summary>An older paper.</summary>"
        f"<published>2026-10-20T17:00:00Z</published><author><name>Author {n} 0</name></author>"
        + (f"<arxiv:comment>{comment}</arxiv:comment>" if comment else "")
        + '<category term="cs.LG"/></entry>'
    )


def serve(counts: Counter[str], lock: threading.Lock) -> ThreadingHTTPServer:
    """Hugging Face's paper endpoint and arXiv's query API, counting the requests."""

    def answer(path: str) -> tuple[bytes, str] | None:
        url = urlsplit(path)
        if url.path.startswith("/api/papers/"):
            with lock:
                counts["hf"] += 1
            match = _ID.fullmatch(unquote(url.path.rsplit("/", 1)[1]))
            n = int(match.group(1)) - FIRST if match else -1
            return json.dumps(changed_hf(n)).encode(), "application/json"
        if url.path == "/api/query":
            with lock:
                counts["arxiv"] += 1
            ids = parse_qs(url.query)["id_list"][0].split(",")
            counts["arxiv_ids_max"] = max(counts["arxiv_ids_max"], len(ids))
            entries = "".join(arxiv_entry(int(i.split(".")[1]) - FIRST) for i in ids)
            feed = (
                '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/'
                'Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">'
                f"<title>ArXiv Query</title>{entries}</feed>"
            )
            return feed.encode(), "application/atom+xml"
        return None

    return serve_http(answer)


def make_followed(count: int) -> None:
    """`count` older papers, v1 without code, each followed by 1 to 3 readers at least."""
    from django.utils import timezone

    from digest.models import Paper
    from subscriptions.models import Follow, Subscriber

    listed = DAY - timedelta(days=20)
    Paper.objects.bulk_create(
        (
            Paper(
                arxiv_id=f"2610.{FIRST + n}", title=f"Followed paper {n}", listed_on=listed,
                sources="arxiv", version=1, upvotes=n % 9, refreshed_on=DAY - timedelta(days=1),
            )
            for n in range(count)
        ),
        batch_size=5000,
    )  # fmt: skip
    papers = list(Paper.objects.filter(listed_on=listed).values_list("pk", flat=True))
    readers = list(Subscriber.objects.values_list("pk", flat=True))
    rng = random.Random(5)
    followed_at = timezone.now() - timedelta(days=10)
    expires = followed_at + timedelta(days=60)
    pairs = {(readers[n % len(readers)], pk) for n, pk in enumerate(papers)}
    for reader in readers:
        pairs.update((reader, pk) for pk in rng.sample(papers, rng.randint(0, 2)))
    Follow.objects.bulk_create(
        (
            Follow(subscriber_id=r, paper_id=p, followed_at=followed_at, expires_at=expires)
            for r, p in pairs
        ),
        batch_size=5000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--followed", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=1000, help="the day's listing")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--no-build", action="store_true", help="the refresh's requests only")
    args = parser.parse_args()
    setup()
    from django.conf import settings
    from django.db import connection

    from digest.following.refresh import followed_refresh
    from digest.models import PaperEvent
    from subscriptions.models import Follow, Subscriber

    started = time.perf_counter()
    make_papers(args.papers)
    make_subscribers(args.subscribers)
    make_followed(args.followed)
    print(
        f"setup: {args.followed} followed papers, {Follow.objects.count()} follows across "
        f"{args.subscribers} readers, {args.papers}-paper day in "
        f"{time.perf_counter() - started:.1f} s ({connection.vendor})"
    )

    counts: Counter[str] = Counter()
    server = serve(counts, threading.Lock())
    base = f"http://127.0.0.1:{server.server_port}"
    settings.HF_PAPER_API_URL = base + "/api/papers/{arxiv_id}"
    settings.ARXIV_API_URL = base + "/api/query"
    # The stand-in needs no etiquette; in production 100 requests x 3 s spread over the day.
    settings.ARXIV_REQUEST_INTERVAL = 0

    started = time.perf_counter()
    hourly = []
    for hour in range(24):  # as beat runs it: each hour a share of what is still due
        report = followed_refresh(day=DAY, share=1 / (24 - hour))
        hourly.append(report.papers + len(report.failed))
    elapsed = time.perf_counter() - started
    again = followed_refresh(day=DAY)
    print(
        f"refresh: {sum(hourly)} papers in 24 hourly runs ({min(hourly)}-{max(hourly)} each) in "
        f"{elapsed:.1f} s; requests: Hugging Face {counts['hf']} "
        f"({counts['hf'] / args.followed:.2f} per followed paper), arXiv {counts['arxiv']} "
        f"(one per {args.followed / max(counts['arxiv'], 1):.0f} papers, at most "
        f"{counts['arxiv_ids_max']} ids each); a second run the same day: "
        f"{again.hf_requests + again.arxiv_requests} requests"
    )
    kinds = Counter(PaperEvent.objects.values_list("kind", flat=True))
    ended = Follow.objects.filter(ended_at__isnull=False).count()
    print(f"events: {dict(sorted(kinds.items()))}; follows ended by withdrawals: {ended}")
    server.shutdown()
    if args.no_build:
        return

    ids = list(Subscriber.objects.order_by("pk").values_list("pk", flat=True))
    times = {}
    for label, updates in (("without updates", False), ("with updates", True)):
        started = time.perf_counter()
        result = build_slice(ids, args.batch, updates=updates)
        times[label] = elapsed = time.perf_counter() - started
        queries: list[int] = result["queries"]  # type: ignore[assignment]
        built = int(result["built"])  # type: ignore[call-overload]
        print(
            f"build {label}: {built} digests ({result['with_updates']} with updates, "
            f"{result['empty']} empty) in {elapsed:.1f} s, {built / elapsed:,.0f}/s; "
            f"queries per batch of {args.batch}: {min(queries)}-{max(queries)}"
        )
    added = times["with updates"] - times["without updates"]
    print(f"added by the updates: {added:+.1f} s; peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
