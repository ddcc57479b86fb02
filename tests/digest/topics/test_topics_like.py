"""`like:<arXiv id>` topics: the papers most like a given one, usable wherever a topic is."""

from __future__ import annotations

import email
import email.policy
import html
import re
import textwrap

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from digest.composing.selection import DayContext, digest_select
from digest.models import Delivery, Paper
from digest.recommend import LIKE_THRESHOLD, feature_space_fit, paper_text
from digest.topics import PaperIndex, PaperText, QueryError, parse, topic_label, validate
from subscriptions.models import Subscriber
from tests.subscriptions.conftest import signup_data
from tests.support.factories import SubscriberFactory

# A paper of the bundled listing, and one that is not in it.
EXEMPLAR = "2206.04246"  # SwinCheX: multi-label classification on chest X-ray images
UNKNOWN = "2409.99999"


@pytest.mark.parametrize(
    ("query", "normalised", "liked"),
    [
        ("like:2409.10594", "like:2409.10594", ("2409.10594",)),
        ("like:arXiv:2409.10594v2 -survey", "like:2409.10594 -survey", ("2409.10594",)),
        ('like:"2409.10594" OR diffusion', "like:2409.10594 OR diffusion", ("2409.10594",)),
        ("like:hep-th/9901001", "like:hep-th/9901001", ("hep-th/9901001",)),
        ("like:math.GT/0309136", "like:math/0309136", ("math/0309136",)),
        ("diffusion -like:2409.10594", "diffusion -like:2409.10594", ("2409.10594",)),
    ],
)
def test_like_terms_parse_and_print_back(query, normalised, liked):
    parsed = parse(query)
    assert str(parsed) == normalised
    assert parse(str(parsed)) == parsed
    assert parsed.liked_ids == liked


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("like:", "like: needs a value right after the colon, e.g. like:2409.10594"),
        ("like:diffusion", "'diffusion' is not an arXiv id: write e.g. like:2409.10594"),
        ("like:2409.1", "'2409.1' is not an arXiv id"),
        ("-like:2409.10594", "A topic can't be only exclusions"),
    ],
)
def test_bad_like_terms_say_what_is_wrong(query, message):
    with pytest.raises(QueryError) as error:
        parse(query)
    assert error.value.message.startswith(message)


def test_validate_refuses_a_paper_we_do_not_have():
    assert validate(f"like:{UNKNOWN}", known=lambda ids: set()) == (
        f"No paper {UNKNOWN} here yet: like: takes the arXiv id of a paper that has been in the "
        "digest (its link ends with the id, e.g. like:2409.10594)"
    )
    assert validate(f"like:{EXEMPLAR}", known=lambda ids: set(ids)) is None
    assert validate(f"like:{UNKNOWN}") is None  # nobody to ask: syntax only


def test_the_index_scores_like_hits_by_similarity_and_combines_them():
    papers = [
        PaperText(1, "A survey of graphs"),
        PaperText(2, "Graph diffusion"),
        PaperText(3, "x"),
    ]
    index = PaperIndex.build(papers, similar=lambda arxiv_id: {1: 0.3, 2: 0.2, 99: 0.9})
    found = index.match("like:2409.10594")
    assert set(found) == {1, 2}  # a key outside the index is ignored
    assert found[1].score > found[2].score  # the more similar, the higher
    assert set(index.match("like:2409.10594 -survey")) == {2}
    assert set(index.match("like:2409.10594 diffusion")) == {2}
    assert PaperIndex.build(papers).match("like:2409.10594") == {}  # no similarity, no match


def _brute_force_like(papers: list[Paper], exemplar: str) -> set[str]:
    """Cosine similarity with numpy over the same tf-idf vectors, every pair computed."""
    texts = [paper_text(p) for p in papers]
    vectors = feature_space_fit(window=texts).transform(texts).toarray().astype(np.float64)
    position = [p.arxiv_id for p in papers].index(exemplar)
    norms = np.linalg.norm(vectors, axis=1)
    cosine = vectors @ vectors[position] / (norms * norms[position])
    return {
        p.arxiv_id
        for p, c in zip(papers, cosine, strict=True)
        if p.arxiv_id != exemplar and c >= LIKE_THRESHOLD - 1e-6
    }


def test_a_like_topic_in_a_digest_brings_exactly_the_similar_papers(snapshot_day):
    papers = list(Paper.objects.all())
    expected = _brute_force_like(papers, EXEMPLAR)
    assert 1 <= len(expected) < len(papers) // 2  # a real selection, not everything
    reader = SubscriberFactory(max_papers=50)
    context = DayContext(snapshot_day)
    content = digest_select(
        subscriber=reader, topics=[f"like:{EXEMPLAR}"], context=context, already_sent=set()
    )
    brought = {pick.paper.arxiv_id for pick in content.picks if pick.reason.topics}
    assert brought == expected
    ranked = [p.paper.arxiv_id for p in content.topics]
    similarity = context.features.like(EXEMPLAR)
    assert ranked == sorted(ranked, key=lambda i: -similarity[i])  # most similar first


TITLES = {"2306.01762": "Feature-Guided Black-Box Safety Testing of Deep Neural Networks"}


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("like:2306.01762", "like:“Feature-Guided Black-Box Safety Testing…”"),
        (
            "robots -like:arXiv:2306.01762v2",
            "robots -like:“Feature-Guided Black-Box Safety Testing…”",
        ),
        (
            '(like:"2306.01762" OR robots)',
            "(like:“Feature-Guided Black-Box Safety Testing…” OR robots)",
        ),
        ("like:2409.99999 -survey", "like:2409.99999 -survey"),  # no such paper: the id stays
        ("unlike:2306.01762 robots", "unlike:2306.01762 robots"),  # a word, not a like: term
    ],
)
def test_a_topic_label_names_each_liked_paper_by_its_title(query, label):
    assert topic_label(query, TITLES.get) == label


def test_a_like_topic_is_named_by_its_papers_title_wherever_the_reader_reads_it(
    client, snapshot_day, file_outbox
):
    title = Paper.objects.get(arxiv_id=EXEMPLAR).title
    label = "like:“" + textwrap.shorten(title, 40, placeholder="…") + "”"
    reader = SubscriberFactory(email="like@example.org", topics=[f"like:{EXEMPLAR}"])
    call_command("send_digests", day=snapshot_day.isoformat())
    (path,) = file_outbox.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    emailed = message.get_body(preferencelist=("html",)).get_content()
    assert label in str(message["Subject"]) and EXEMPLAR not in str(message["Subject"])
    assert f"Why: your topic {label}" in text
    assert html.escape(f"Matches your topic: {label}", quote=False) in emailed
    # The stored reason keeps the topic as typed, beside its label.
    delivery = Delivery.objects.get(subscriber=reader)
    reasons = [item["reason"] for item in delivery.papers if item["section"] == "topics"]
    assert reasons and all(
        r["topics"] == [f"like:{EXEMPLAR}"] and r["labels"] == [label] for r in reasons
    )
    # The web version reads the same, and so does the live preview.
    view = re.search(r'href="https://digest\.example\.org(/digests/view/[^"]+)"', emailed)[1]
    page = client.get(view).content.decode()
    assert html.escape(f"Matches your topic: {label}", quote=False) in page
    preview = client.get(reverse("subscriptions:preview"), {"q": f"like:{EXEMPLAR}"})
    assert f"<q>{html.escape(label, quote=False)}</q>" in preview.content.decode()


def test_signup_with_an_unknown_paper_is_explained_next_to_the_field(client, snapshot_day):
    response = client.post(
        reverse("subscriptions:subscribe"), signup_data(topics=f"like:{UNKNOWN} -survey")
    )
    assert response.status_code == 200
    (error,) = response.context["form"].errors["topics"]
    assert f"No paper {UNKNOWN} here yet" in error
    assert not Subscriber.objects.exists()


def test_signup_with_a_known_paper_is_accepted(client, snapshot_day):
    response = client.post(
        reverse("subscriptions:subscribe"), signup_data(topics=f"like:{EXEMPLAR} -survey")
    )
    assert response.status_code == 302
    assert [t.query for t in Subscriber.objects.get().topics.all()] == [f"like:{EXEMPLAR} -survey"]


def test_the_live_preview_shows_the_similar_papers(client, snapshot_day):
    response = client.get(reverse("subscriptions:preview"), {"q": f"like:{EXEMPLAR}"})
    html = response.content.decode()
    expected = _brute_force_like(list(Paper.objects.all()), EXEMPLAR)
    assert response.status_code == 200
    assert all(arxiv_id in html for arxiv_id in expected)
    unknown = client.get(reverse("subscriptions:preview"), {"q": f"like:{UNKNOWN}"})
    # As any bad topic: 400 with the readable error, never a 500.
    assert unknown.status_code == 400 and f"No paper {UNKNOWN} here yet" in unknown.content.decode()


def test_csv_import_reports_an_unknown_paper_and_imports_a_known_one(
    snapshot_day, tmp_path, capsys
):
    path = tmp_path / "readers.csv"
    path.write_text(
        f"email,topics\nada@example.org,like:{EXEMPLAR}\nbob@example.org,like:{UNKNOWN}\n",
        encoding="utf-8",
    )
    call_command("import_subscribers", str(path), "--confirmed")
    assert f"readers.csv:3: topic 'like:{UNKNOWN}': No paper {UNKNOWN} here yet" in (
        capsys.readouterr().err
    )
    assert [t.query for t in Subscriber.objects.get(email="ada@example.org").topics.all()] == [
        f"like:{EXEMPLAR}"
    ]
    assert not Subscriber.objects.filter(email="bob@example.org").exists()
