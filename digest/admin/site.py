"""The project keeps Django's default admin site (settings and urls stay as Django made them);
this module gives it a rate-limited login and the dashboard on its index page."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django_ratelimit.core import get_usage

from digest.admin.charts import bar_chart, line_chart
from digest.monitoring import dashboard

# Failed logins allowed per client address before the login page answers 429 until the window
# ends. Only failures count, so an editor who logs in fine is never locked out by colleagues
# sharing an office address.
LOGIN_FAILURES = "5/5m"
LOGIN_GROUP = "admin-login"


def _failures(request: HttpRequest, *, increment: bool) -> dict[str, Any] | None:
    return get_usage(
        request,
        group=LOGIN_GROUP,
        key="ip",
        rate=LOGIN_FAILURES,
        method="POST",
        increment=increment,
    )


def rate_limited_login(
    site: AdminSite, login: Callable[..., HttpResponse]
) -> Callable[..., HttpResponse]:
    @functools.wraps(login)
    def wrapper(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        usage = _failures(request, increment=False)
        if usage is not None and usage["count"] >= usage["limit"]:
            context = {
                **site.each_context(request),
                "title": "Too many attempts",
                "retry_minutes": max(1, (usage["time_left"] + 59) // 60),
            }
            return TemplateResponse(request, "admin/login_rate_limited.html", context, status=429)
        response = login(request, extra_context)
        # A successful login redirects; a failed one shows the form again with its error.
        if request.method == "POST" and response.status_code == 200:
            _failures(request, increment=True)
        return response

    return wrapper


def dashboard_context() -> dict[str, Any]:
    today = timezone.localdate()
    subscribers = dashboard.subscribers_over_time(today=today)
    deliveries = dashboard.deliveries_per_day(today=today)
    papers = dashboard.papers_per_day(today=today)
    return {
        "warnings": dashboard.todays_warnings(),
        "window_days": dashboard.WINDOW_DAYS,
        "status_counts": dashboard.subscriber_counts(),
        "rates": dashboard.delivery_rates(today=today),
        "subscribers_chart": line_chart(subscribers, label="Subscribers by status, per day"),
        "subscribers_caption": dashboard.SUBSCRIBERS_CAPTION,
        "deliveries_chart": bar_chart(deliveries, label="Digests per day by outcome"),
        "deliveries_total": int(deliveries.total),
        "papers_chart": bar_chart(papers, label="Papers listed per day by source"),
        "papers_total": int(papers.total),
    }


def install(site: AdminSite) -> None:
    site.site_header = "Paper Digest — editors"
    site.site_title = "Paper Digest admin"
    site.index_title = "Dashboard"
    site.index_template = "admin/digest_index.html"
    # Instance attributes rather than a subclass: swapping the default site class would mean
    # replacing django.contrib.admin in INSTALLED_APPS. get_urls() reads these when the URLconf
    # loads, after autodiscovery has imported this module.
    site.login = rate_limited_login(site, site.login)  # type: ignore[method-assign]
    index = site.index

    @functools.wraps(index)
    def index_with_dashboard(
        request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return index(request, extra_context={**dashboard_context(), **(extra_context or {})})

    site.index = index_with_dashboard  # type: ignore[method-assign,assignment]
