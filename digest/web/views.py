"""Public pages of the digest itself: the trending list (home); /healthz is in monitoring."""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from digest.models import Paper
from digest.papers.selectors import latest_listing_day, trending_papers

log = logging.getLogger(__name__)
HOME_PAPERS = 30


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The latest listing day's trending papers, the way the Daily Papers page shows them.

    The page is the same for every visitor without a session (no flash messages to show), so
    it is rendered once per change of the day's papers and then served from memory; the stamp
    (the day, how many papers it has, the latest change to one, curation included) moves
    whenever the list could, so a fetch or an editor's pin shows at once.
    """
    day = latest_listing_day()
    stamp = _listing_stamp(day)
    shared = settings.SESSION_COOKIE_NAME not in request.COOKIES
    if shared and stamp in _pages:
        return HttpResponse(_pages[stamp])
    if stamp not in _lists:
        papers = trending_papers(day=day, limit=HOME_PAPERS) if day else []
        _lists.clear()  # one listing at a time
        _lists[stamp] = (
            render_to_string("web/_paper_list.html", {"papers": papers}) if papers else ""
        )
    papers_html = mark_safe(_lists[stamp])  # noqa: S308 (our own template's output)
    response = render(request, "web/home.html", {"day": day, "papers_html": papers_html})
    if shared:
        _pages.clear()
        _pages[stamp] = response.content
    return response


_lists: dict[tuple[object, ...], str] = {}
_pages: dict[tuple[object, ...], bytes] = {}


def _listing_stamp(day: date | None) -> tuple[object, ...]:
    if day is None:
        return (None,)
    changes = Paper.objects.filter(listed_on=day).aggregate(Count("pk"), Max("updated_at"))
    return (day, *changes.values())
