"""The web archive: a day's public trending digest, and a delivery's personal "view in browser"."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from digest.composing.assemble import DayRenderer
from digest.composing.build import subscriber_links
from digest.composing.content import DigestContent, Pick, Reason, Section, Update
from digest.models import Delivery, Paper, PaperEvent
from digest.papers.selectors import trending_papers
from digest.web.csp import allow_email
from subscriptions.models import Subscriber
from subscriptions.readers.tokens import Purpose, TokenError, read_token


@require_GET
def day_archive(request: HttpRequest, day: str) -> HttpResponse:
    try:
        for_date = date.fromisoformat(day)
    except ValueError as exc:
        raise Http404("Not a date") from exc
    papers = trending_papers(day=for_date, limit=settings.DIGEST_ARCHIVE_COUNT)
    if not papers:
        raise Http404("No digest for that day")
    return render(request, "web/digest_archive.html", {"day": for_date, "papers": papers})


def _rest_of_the_day(delivery: Delivery, subscriber: Subscriber, *, shown: set[str]) -> list[Pick]:
    """The digest day's other papers (a weekly reader's week), in the trending order, for the
    reader to vote on below their email."""
    days = 7 if subscriber.cadence == Subscriber.Cadence.WEEKLY else 1
    count = settings.DIGEST_VIEW_MORE_COUNT
    day = delivery.digest_date
    candidates = trending_papers(day=day, days=days, limit=count + len(shown)) if count else []
    rest = [paper for paper in candidates if paper.arxiv_id not in shown][:count]
    return [Pick(paper, Section.TRENDING, Reason((), frozenset())) for paper in rest]


@require_GET
def delivery_view(request: HttpRequest, token: str) -> HttpResponse:
    """Re-render a sent digest from its delivery row (papers and reasons), behind a token."""
    try:
        subscriber, delivery_id = read_token(token, Purpose.VIEW)
    except TokenError as exc:
        return render(request, "web/digest_link_problem.html", {"message": str(exc)}, status=404)
    if delivery_id is None:
        raise Http404("No such digest")
    delivery = Delivery.objects.filter(pk=delivery_id, subscriber=subscriber).first()
    if delivery is None or not delivery.papers:
        raise Http404("No such digest")
    papers = Paper.objects.in_bulk(
        [item["arxiv_id"] for item in delivery.papers], field_name="arxiv_id"
    )
    content = DigestContent(subscriber=subscriber, day=delivery.digest_date)
    told = [item["event_id"] for item in delivery.papers if item["section"] == Section.UPDATES]
    events = PaperEvent.objects.select_related("paper").in_bulk(told)
    for event_id in told:  # the updates as they were told (an event hidden since included)
        if (event := events.get(event_id)) is not None:
            content.updates.append(
                Update(
                    event.pk, event.paper, event.kind, event.detail, event.seen_on, event.seen_at
                )
            )
    for item in delivery.papers:
        paper = papers.get(item["arxiv_id"])
        if paper is None or item["section"] == Section.UPDATES:
            continue
        reason = item.get("reason") or {}
        similar = reason.get("similar_to") or {}
        pick = Pick(
            paper,
            Section(item["section"]),
            Reason(
                tuple(reason.get("topics", ())),
                frozenset(reason.get("words", ())),
                similar_to=similar.get("arxiv_id", ""),
                similar_title=similar.get("title", ""),
                similar_topic=similar.get("topic", ""),
                similar_source=similar.get("source", ""),
                labels=tuple(reason.get("labels", ())),
            ),
        )
        content.section(pick.section).append(pick)
    links = subscriber_links(subscriber, day=delivery.digest_date, delivery_id=delivery.pk)
    email = DayRenderer(delivery.digest_date).render(
        content,
        links,
        more=_rest_of_the_day(delivery, subscriber, shown=set(papers)),
        for_inbox=False,
    )
    response = HttpResponse(email.html)
    response["X-Robots-Tag"] = "noindex"
    allow_email(response, email.html)
    return response
