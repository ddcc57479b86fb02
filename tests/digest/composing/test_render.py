"""The emails on fixed data, compared with committed snapshots (UPDATE_SNAPSHOTS=1 rewrites
them; review the diff), plus the rules every rendering must keep."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine

from digest.composing.build import DayBuilder, digest_message
from digest.emails.render import render_email
from subscriptions.models import Subscriber, Topic
from tests.support.factories import PaperFactory

pytestmark = pytest.mark.django_db

SNAPSHOTS = Path(__file__).parent / "snapshots"
DAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


def check_snapshot(name: str, content: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(content, encoding="utf-8")
    assert content == path.read_text(encoding="utf-8"), f"{name} changed: UPDATE_SNAPSHOTS=1"


@pytest.fixture
def fixed_day(settings):
    settings.DIGEST_TRENDING_COUNT = 2
    PaperFactory(
        arxiv_id="2409.10594",
        title="Kolmogorov-Arnold Transformer",
        listed_on=DAY,
        abstract="Transformers stand as the cornerstone of modern deep learning. We replace "
        "MLP layers with Kolmogorov-Arnold Network layers.",
        authors=["Xingyi Yang", "Xinchao Wang"],
        author_count=2,
        upvotes=5,
        comments=2,
        categories=["cs.LG", "cs.AI"],
        primary_category="cs.LG",
        github_repo="https://github.com/Adamdad/kat",
        github_stars=812,
        thumbnail="https://cdn.example.org/2409.10594.png",
        editor_note="A clean, fast drop-in for MLPs.",
        ai_summary="A transformer variant that replaces MLP layers with Kolmogorov-Arnold "
        "Network layers using rational functions and group-wise parameter sharing.",
        featured=True,
    )
    PaperFactory(
        arxiv_id="2103.00112",
        title="Transformer in Transformer",
        listed_on=DAY,
        abstract="Transformer is a new kind of neural architecture which encodes the input "
        "data as powerful features via the attention mechanism.",
        authors=["Kai Han", "An Xiao", "Enhua Wu", "Jianyuan Guo", "Chunjing Xu", "Yunhe Wang"],
        author_count=6,
        upvotes=1,
        categories=["cs.CV"],
        primary_category="cs.CV",
    )
    PaperFactory(
        arxiv_id="2305.00385",
        listed_on=DAY,
        upvotes=0,
        primary_category="cs.CV",
        title="Cross-Shaped Windows Transformer with Self-supervised Pretraining for "
        "Clinically Significant Prostate Cancer Detection in Bi-parametric MRI",
        abstract="Multiparametric magnetic resonance imaging is used for cancer detection. "
        "We propose a self-supervised pretraining scheme for a cross-shaped windows "
        "transformer and report results on clinically significant cancer.",
        authors=["Alex Li"],
        author_count=1,
    )
    subscriber = Subscriber.objects.create(
        pk=4242, email="reader@example.org", status=Subscriber.Status.ACTIVE
    )
    Topic.objects.create(subscriber=subscriber, query="self-supervised")
    Topic.objects.create(subscriber=subscriber, query='"prostate cancer"')
    return subscriber


def test_digest_email_snapshot(fixed_day):
    with time_machine.travel(NOW, tick=False):
        builder = DayBuilder(DAY)
        content = builder.select(fixed_day)
        email = builder.render(content, delivery_id=None)
    assert (
        email.subject
        == 'New paper on self-supervised and "prostate cancer", 2 trending'.replace(
            "New paper", "1 new paper"
        )
    )
    check_snapshot("digest.subject.txt", email.subject + "\n")
    check_snapshot("digest.txt", email.text)
    check_snapshot("digest.html", email.html)


def test_quiet_email_snapshot():
    with time_machine.travel(NOW, tick=False):
        email = render_email(
            "quiet",
            {
                "reason": "No papers are listed on weekends.",
                "manage_url": "https://digest.example.org/manage/t/",
                "unsubscribe_url": "https://digest.example.org/unsubscribe/t/",
            },
        )
    check_snapshot("quiet.subject.txt", email.subject + "\n")
    check_snapshot("quiet.txt", email.text)
    check_snapshot("quiet.html", email.html)


def test_what_every_digest_must_have(fixed_day):
    builder = DayBuilder(DAY)
    content = builder.select(fixed_day)
    email = builder.render(content, delivery_id=None)
    html, text = email.html, email.text
    assert 'class="preheader"' in html and "Cross-Shaped Windows Transformer" in html
    assert 'alt="Figure from' in html and "https://cdn.example.org/2409.10594.png" in html
    for link in (
        "https://arxiv.org/abs/2409.10594",
        "https://arxiv.org/pdf/2409.10594",
        "https://github.com/Adamdad/kat",
    ):
        assert link in html and link in text
    assert "View in browser" in html and "Manage preferences" in html and "Unsubscribe" in html
    assert "Editor\u2019s note" in html
    assert "Editor's note: A clean, fast drop-in for MLPs." in text
    # The matched words are highlighted in the abstract snippet, and the reason is stated.
    assert re.search(r'<span\s+class="hl"[^>]*>self-supervised</span>', html)
    assert "Matches your topics: self-supervised, &quot;prostate cancer&quot;" in html
    assert 'Why: your topics self-supervised, "prostate cancer"' in text
    # CSS is inlined; only media queries stay in a style block.
    assert 'style="' in html and "max-width:600px" in html.replace(" ", "")
    assert "prefers-color-scheme: dark" in html
    assert all(len(line) <= 998 for line in html.splitlines())
    assert len(html.encode()) < 100_000


def test_a_snippet_full_of_matches_keeps_the_message_out_of_quoted_printable(fixed_day):
    # Each highlight carries its inlined style: a snippet with many matched words once made a
    # line longer than SMTP's 998 bytes, and the whole HTML part went quoted-printable (a third
    # larger, and three times slower to write).
    PaperFactory(
        arxiv_id="2501.00001",
        listed_on=DAY,
        title="Prostate cancer screening",
        abstract=" ".join(["Prostate cancer"] * 40),
    )
    builder = DayBuilder(DAY)
    content = builder.select(fixed_day)
    email = builder.render(content, delivery_id=7)
    assert email.html.count('class="hl"') >= 10
    raw = digest_message(subscriber=fixed_day, email=email, delivery_id=7, day=DAY).as_bytes()
    assert b"quoted-printable" not in raw
    assert max(map(len, raw.split(b"\r\n"))) <= 998


def test_message_headers_and_metadata(fixed_day):
    builder = DayBuilder(DAY)
    email = builder.render(builder.select(fixed_day), delivery_id=7)
    message = digest_message(subscriber=fixed_day, email=email, delivery_id=7, day=DAY)
    assert message.to == ["reader@example.org"]
    assert message.metadata == {"delivery_id": "7", "digest_date": "2026-11-24"}
    assert message.tags == ["digest"]
    assert "/digests/view/" in email.html  # a sent digest links to its own web copy


def test_postmark_digests_go_on_the_broadcast_stream(fixed_day, settings):
    builder = DayBuilder(DAY)
    email = builder.render(builder.select(fixed_day), delivery_id=7)
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    message = digest_message(subscriber=fixed_day, email=email, delivery_id=7, day=DAY)
    assert message.esp_extra == {"MessageStream": "broadcast"}
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    message = digest_message(subscriber=fixed_day, email=email, delivery_id=7, day=DAY)
    from anymail.utils import UNSET

    assert message.esp_extra is UNSET
