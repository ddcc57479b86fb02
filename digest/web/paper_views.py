"""A paper's page in the web archive (/digests/<day>/<arXiv id>/) with the Highwire `citation_*`
tags reference managers read, its BibTeX ("Cite"), and its Follow-by-email form.

The archive does not know its visitors: the form takes an address and queues the Follow-link
email for it (subscriptions.feedback.follow_links decides whether anything is sent), then
answers with the same "check your inbox" page whatever the address.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from digest.composing.content import Update
from digest.models import Paper
from digest.papers.citations import bibtex, citation_record, highwire_tags
from digest.papers.selectors import paper_listed, public_events
from subscriptions.feedback.tasks import enqueue_follow_link
from subscriptions.web.forms import FollowByEmailForm
from subscriptions.web.ratelimits import follow_request_limited

TOO_MANY = (
    "We've had several follow requests from you in a short time. "
    "Please wait a few minutes and try again."
)


def _paper(day: str, arxiv_id: str) -> Paper:
    """The visible paper listed on `day`, or 404 (a bad date, another day, hidden, withdrawn)."""
    try:
        listed_on = date.fromisoformat(day)
    except ValueError as exc:
        raise Http404("Not a date") from exc
    paper = paper_listed(day=listed_on, arxiv_id=arxiv_id)
    if paper is None:
        raise Http404("No such paper on that day")
    return paper


@require_http_methods(["GET", "POST"])
def paper_page(request: HttpRequest, day: str, arxiv_id: str) -> HttpResponse:
    paper = _paper(day, arxiv_id)
    status = 200
    if request.method == "POST":
        form = FollowByEmailForm(request.POST)
        if form.is_valid():
            if follow_request_limited(request):
                answer = {"message": TOO_MANY}
                response = render(request, "web/too_many.html", answer, status=429)
                response["Retry-After"] = "600"
                return response
            enqueue_follow_link(form.cleaned_data["email"], paper.arxiv_id)
            return redirect("digest:paper_follow_sent", day, paper.arxiv_id)
        status = 400
    else:
        form = FollowByEmailForm()
    events = [
        Update(event.pk, paper, event.kind, event.detail, event.seen_on, event.seen_at)
        for event in public_events(paper)
    ]
    context = {
        "paper": paper,
        "events": events,
        "form": form,
        "hf_url": paper.hf_url if _on_hf(paper) else "",
        # What Zotero's connector and Google Scholar read (digest.papers.citations).
        "citation_tags": highwire_tags(
            citation_record(paper), page_url=settings.SITE_URL + request.path
        ),
    }
    return render(request, "web/paper.html", context, status=status)


@require_GET
def follow_sent(request: HttpRequest, day: str, arxiv_id: str) -> HttpResponse:
    """The answer to the Follow form, the same for every address."""
    return render(request, "web/paper_follow_sent.html", {"paper": _paper(day, arxiv_id)})


@require_GET
def paper_bibtex(request: HttpRequest, day: str, arxiv_id: str) -> HttpResponse:
    """The paper's BibTeX (the page's "Cite" link): plain text the browser shows, to copy."""
    paper = _paper(day, arxiv_id)
    response = HttpResponse(
        bibtex([citation_record(paper)]), content_type="text/plain; charset=utf-8"
    )
    filename = paper.arxiv_id.replace("/", "_") + ".bib"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _on_hf(paper: Paper) -> bool:
    """Listed by Hugging Face (the bundled snapshot is a capture of its Daily Papers page)."""
    sources = set(paper.sources.split(","))
    return bool(sources & {Paper.Source.HF, Paper.Source.SNAPSHOT})
