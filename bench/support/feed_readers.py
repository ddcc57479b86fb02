"""Readers with a month of digests, for the feed part of bench/web.py. Run as a script in the
server's environment (the same VAR_DIR database), after the bundled listing is loaded:

    python bench/support/feed_readers.py seed N TOKENS_FILE   1 delivery a day for 30 days each
    python bench/support/feed_readers.py queries               queries per feed request

`seed` writes each reader's feed path, one a line. `queries` prints the number of queries a full
feed and a 304 take, for a reader with 1 digest and one with 30 (10 and 300 entries).
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from digest.models import Delivery, Paper  # noqa: E402
from subscriptions.models import Subscriber  # noqa: E402
from subscriptions.readers.feeds import feed_token  # noqa: E402

DAYS = 30
PER_DIGEST = 10


def seed(count: int, out: Path) -> None:
    papers = list(Paper.objects.values_list("arxiv_id", flat=True)[:57])
    now = timezone.now()
    today = timezone.localdate()
    Subscriber.objects.bulk_create(
        Subscriber(email=f"feed-reader-{n}@example.org", status="active", confirmed_at=now)
        for n in range(count)
    )
    readers = list(Subscriber.objects.filter(email__startswith="feed-reader-").order_by("pk"))
    rows = []
    for n, reader in enumerate(readers):
        for day in range(DAYS):
            start = (n + day * PER_DIGEST) % (len(papers) - PER_DIGEST)
            told = [
                {"arxiv_id": arxiv_id, "section": "topics",
                 "reason": {"topics": ["diffusion"], "words": ["diffusion"]}}
                for arxiv_id in papers[start : start + PER_DIGEST]
            ]  # fmt: skip
            rows.append(
                Delivery(
                    subscriber=reader,
                    digest_date=today - timedelta(days=day),
                    status=Delivery.Status.SENT,
                    finished_at=now - timedelta(days=day),
                    papers=told,
                )
            )
    Delivery.objects.bulk_create(rows, batch_size=2000)
    out.write_text("".join(reverse("feeds:reader", args=[feed_token(r)]) + "\n" for r in readers))
    print(f"{len(readers)} readers, {len(rows)} deliveries of {PER_DIGEST} papers")


def queries() -> None:
    client = Client(HTTP_HOST="127.0.0.1")
    short = Subscriber.objects.create(email="one-digest@example.org", status="active")
    reader = Subscriber.objects.filter(email__startswith="feed-reader-").first()
    assert reader is not None
    one = Delivery.objects.filter(subscriber=reader).order_by("-digest_date").first()
    assert one is not None
    Delivery.objects.create(
        subscriber=short, digest_date=one.digest_date, status="sent",
        finished_at=one.finished_at, papers=one.papers,
    )  # fmt: skip
    for label, subscriber in (("1 digest, 10 entries", short), ("30 digests, 300 entries", reader)):
        path = reverse("feeds:reader", args=[feed_token(subscriber)])
        with CaptureQueriesContext(connection) as full:
            response = client.get(path)
        assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as conditional:
            again = client.get(path, headers={"If-None-Match": response["ETag"]})
        assert again.status_code == 304, again.status_code
        entries = response.content.count(b"<entry>")
        print(
            f"  {label}: full feed {len(full.captured_queries)} queries "
            f"({entries} entries, {len(response.content) // 1024} KB), "
            f"304 {len(conditional.captured_queries)} queries"
        )


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        seed(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        queries()
