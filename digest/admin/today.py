"""Today's digest: the trending section as it will go out, with the next candidates to promote."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from digest.admin.badges import curation_state
from digest.models import Paper
from digest.monitoring import dashboard
from digest.papers.curation import next_pin_order
from digest.papers.selectors import latest_listing_day, trending_papers

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

# How many papers below the cut the editors see, to promote one by pinning or featuring it.
CANDIDATES = 10


def today_view(model_admin: ModelAdmin[Paper], request: HttpRequest) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    day = latest_listing_day()
    count = settings.DIGEST_TRENDING_COUNT
    # The very selector the digest builder uses, so the order here is the order in the email.
    listed = trending_papers(day=day, limit=count + CANDIDATES) if day else []
    hidden = list(Paper.objects.filter(listed_on=day, hidden=True)) if day else []
    for paper in [*listed, *hidden]:
        paper.state_labels = curation_state(paper)  # type: ignore[attr-defined]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Today's digest",
        "subtitle": f"{day:%A %d %B %Y}" if day else None,
        "opts": model_admin.opts,
        "day": day,
        "trending": listed[:count],
        "candidates": listed[count:],
        "hidden": hidden,
        "trending_count": count,
        "next_pin_order": next_pin_order(day=day) if day else 1,
        "warnings": dashboard.todays_warnings(),
        "next": request.get_full_path(),
        "can_change": model_admin.has_change_permission(request),
    }
    return TemplateResponse(request, "admin/digest/paper/today.html", context)
