"""The dead-man's switch: a local HTTP server stands in for healthchecks.io and receives the
pings of real task runs (in-process, as without a broker), `/fail` on failure; a monitor that
is down or answers 500 never fails the job."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from digest import tasks
from digest.models import Delivery
from tests.support.factories import SubscriberFactory
from tests.support.real_services import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def monitor(settings, httpserver: HTTPServer):
    for path in ("/ping/plan", "/ping/plan/fail", "/ping/fetch", "/ping/fetch/fail",
                 "/ping/send", "/ping/send/fail"):  # fmt: skip
        httpserver.expect_request(path, method="GET").respond_with_data("OK")
    settings.HEARTBEAT_URLS = {
        job: httpserver.url_for(f"/ping/{job}") for job in ("plan", "fetch", "send")
    }
    return httpserver


def pings(server: HTTPServer) -> list[str]:
    return [request.path for request, _ in server.log]


def test_a_planner_run_and_the_days_send_ping_their_monitors(
    monitor, snapshot_day, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for n in range(3):
        SubscriberFactory(email=f"r{n}@example.org", delivery_hour=0)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.plan_deliveries.apply().get()
    assert Delivery.objects.filter(status="sent").count() == 3
    # The plan succeeded, its batch went out, and the day is settled: one ping each.
    assert pings(monitor) == ["/ping/plan", "/ping/send"]


def test_a_failed_fetch_pings_fail(monitor, settings, httpserver):
    settings.HF_PAPERS_URL = httpserver.url_for("/api/daily_papers")  # 500: no handler
    settings.ARXIV_API_URL = httpserver.url_for("/api/query")
    settings.HTTP_RETRIES = 0
    settings.ARXIV_REQUEST_INTERVAL = 0
    outcome = tasks.fetch_day.apply(args=["2024-09-17"]).get()
    assert outcome == {"hf": "failed", "arxiv": "failed"}
    assert pings(monitor)[-1] == "/ping/fetch/fail"


def test_a_planner_that_raises_pings_fail(monitor):
    # A bad call makes the task raise; throw=False: as in a worker, the exception ends the task
    # (and sends task_failure) instead of reaching the caller.
    result = tasks.plan_deliveries.apply(args=["unexpected"], throw=False)
    assert result.failed()
    assert pings(monitor) == ["/ping/plan/fail"]


@pytest.mark.parametrize("answer", ["dead", "500"])
def test_a_monitor_that_is_down_never_fails_the_job(settings, httpserver, snapshot_day, answer):
    if answer == "dead":
        url = f"http://127.0.0.1:{free_port()}/ping/plan"  # nothing listens there
    else:
        httpserver.expect_request("/ping/plan").respond_with_data("down", status=500)
        url = httpserver.url_for("/ping/plan")
    settings.HEARTBEAT_URLS = {"plan": url}
    settings.HEARTBEAT_TIMEOUT = 1
    SubscriberFactory(delivery_hour=0)
    result = tasks.plan_deliveries.apply()
    assert result.successful()
    assert Delivery.objects.count() == 1


def test_no_urls_no_pings(settings, httpserver, snapshot_day):
    settings.HEARTBEAT_URLS = {}
    assert tasks.plan_deliveries.apply().successful()
    assert httpserver.log == []
