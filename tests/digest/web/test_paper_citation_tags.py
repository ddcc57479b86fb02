"""A paper's page carries the Highwire `citation_*` tags Zotero's connector and Google Scholar
read, and a "Cite" link to the paper's BibTeX."""

from __future__ import annotations

from datetime import UTC, date, datetime
from html.parser import HTMLParser

import bibtexparser
import pytest

from tests.support.factories import PaperFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 24)


class MetaTags(HTMLParser):
    """The page's <meta name=... content=...> pairs and its links, as a browser parses them."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: list[tuple[str, str]] = []
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "meta" and "name" in found:
            self.meta.append((found["name"], found.get("content") or ""))
        if tag == "a":
            self._href = found.get("href")

    def handle_data(self, data):
        if self._href and data.strip():
            self.links[data.strip()] = self._href
            self._href = None


@pytest.fixture
def paper():
    return PaperFactory(
        arxiv_id="2409.10594",
        listed_on=DAY,
        title='Kolmogorov-Arnold "Transformer" <b>& {friends}</b> at 100%',
        authors=["Xingyi Yang", "Łukasz Kaiser", "Jürgen van der Müller"],
        published_at=datetime(2024, 9, 16, 17, 0, tzinfo=UTC),
        primary_category="cs.LG",
    )


def parsed(client, paper) -> MetaTags:
    response = client.get(f"/digests/{DAY}/{paper.arxiv_id}/")
    assert response.status_code == 200
    tags = MetaTags()
    tags.feed(response.content.decode())
    return tags


def test_page_has_highwire_tags_one_author_each(client, paper):
    meta = parsed(client, paper).meta
    citation = [(name, value) for name, value in meta if name.startswith("citation_")]
    one = {name: value for name, value in citation}
    assert one["citation_title"] == paper.title  # escaped in the HTML, the text when parsed
    assert [v for n, v in citation if n == "citation_author"] == paper.authors
    assert one["citation_date"] == one["citation_publication_date"] == "2024/09/16"
    assert one["citation_arxiv_id"] == "2409.10594"
    assert one["citation_pdf_url"] == "https://arxiv.org/pdf/2409.10594"
    page = f"https://digest.example.org/digests/{DAY}/2409.10594/"
    assert one["citation_abstract_html_url"] == page
    assert one["citation_doi"] == "10.48550/arXiv.2409.10594"


def test_cite_link_shows_the_papers_bibtex(client, paper):
    href = parsed(client, paper).links["Cite"]
    response = client.get(href)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    (entry,) = bibtexparser.parse_string(response.content.decode()).entries
    assert entry.fields_dict["eprint"].value == "2409.10594"
    assert entry.fields_dict["archivePrefix"].value == "arXiv"


def test_cite_link_of_a_hidden_paper_is_404(client, paper):
    href = parsed(client, paper).links["Cite"]
    paper.hidden = True
    paper.save()
    assert client.get(href).status_code == 404
