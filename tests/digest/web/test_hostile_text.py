"""Paper text is untrusted: escaped in HTML, literal in text, never a second header."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

HOSTILE_TITLE = "<script>x</script> $a<b$ &amp; diffusion\r\nBcc: victim@example.org"
HOSTILE_ABSTRACT = "We bound </td></tr></table> the loss by $\\mathcal{O}(n^2)$ when $a<b$ & c."


def sent_message(settings):
    (path,) = Path(settings.EMAIL_FILE_PATH).glob("*.eml")
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_hostile_title_is_escaped_and_folded(settings, file_outbox):
    paper = PaperFactory(title=HOSTILE_TITLE, abstract=HOSTILE_ABSTRACT, upvotes=50)
    SubscriberFactory(email="reader@example.org", topics=["diffusion"])
    call_command("send_digests", day=paper.listed_on.isoformat())
    message = sent_message(settings)

    # One Subject line, no injected header.
    assert message["Bcc"] is None
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    assert "Bcc: victim@example.org" in str(message["Subject"])  # folded, kept as text

    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt; $a&lt;b$ &amp;amp;" in html
    assert "</td></tr></table> the loss" not in html
    assert "$\\mathcal{O}(n^2)$" in html  # LaTeX survives

    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "<script>x</script> $a<b$ &amp; diffusion" in text
    assert "$\\mathcal{O}(n^2)$ when $a<b$ & c." in " ".join(text.split())  # wrapped


def test_paper_text_carrying_our_internal_markers_renders_as_text(settings, file_outbox):
    # The digest is assembled from pre-rendered parts joined at marker strings; a paper that
    # contains those strings must still come out whole, in the right place, escaped.
    paper = PaperFactory(
        title="XPDMARKWHYX XPDMARKSNIPPETX XPDMARKSECTIONSX <b>diffusion</b>",
        abstract="diffusion XPDMARKWHYX and XPDMARKSNIPPETX inside",
        upvotes=50,
    )
    SubscriberFactory(email="reader@example.org", topics=["diffusion"])
    call_command("send_digests", day=paper.listed_on.isoformat())
    message = sent_message(settings)
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "XPDMARKWHYX XPDMARKSNIPPETX XPDMARKSECTIONSX &lt;b&gt;diffusion&lt;/b&gt;" in html
    assert "Matches your topic: diffusion" in html
    assert "XPDMARKWHYX XPDMARKSNIPPETX XPDMARKSECTIONSX <b>diffusion</b>" in text
    assert "Why: your topic diffusion" in text
    assert "diffusion XPDMARKWHYX and XPDMARKSNIPPETX inside" in " ".join(text.split())
