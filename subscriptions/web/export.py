"""The reader's export, behind their manage link: liked and followed papers, then their library
papers with an arXiv id, as BibTeX (for
JabRef, BibDesk, LaTeX) or CSL-JSON (Zotero, Pandoc), with arXiv's eprint fields and DOIs."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from digest.papers.citations import bibtex, csl_json
from subscriptions.feedback.export import papers_to_export
from subscriptions.library.selectors import library_citations
from subscriptions.readers.tokens import Purpose
from subscriptions.web.pages import subscriber_or_page

FORMATS = {
    "bib": "application/x-bibtex; charset=utf-8",
    "json": "application/vnd.citationstyles.csl+json; charset=utf-8",
}


@require_GET
def export(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    subscriber = subscriber_or_page(request, token, Purpose.MANAGE)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    records = papers_to_export(subscriber=subscriber)
    records += library_citations(
        subscriber_id=subscriber.pk, skip={record.arxiv_id for record in records}
    )
    if fmt == "bib":
        body = bibtex(records)
    else:
        body = json.dumps(csl_json(records), ensure_ascii=False, indent=2) + "\n"
    response = HttpResponse(body, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="paper-digest-papers.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
