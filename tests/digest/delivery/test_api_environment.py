"""A provider connection reads the environment's proxy settings once, and still obeys them.

requests re-reads os.environ on every request of a session that trusts it; the sending threads
resolve it once per connection (digest.delivery.in_flight.pin_environment). Against the local
stand-in for Postmark's API, through anymail's real Postmark backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import requests.sessions

from digest.delivery.batch import deliveries_plan, deliveries_send
from digest.models import Delivery
from tests.support.factories import SubscriberFactory
from tests.support.provider_api import TOKEN, ProviderAPI
from tests.support.real_services import free_port

pytestmark = pytest.mark.django_db

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture
def provider(settings, monkeypatch) -> Iterator[ProviderAPI]:
    api = ProviderAPI(free_port(), latency=0.01)
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": TOKEN, "POSTMARK_API_URL": api.url}
    settings.SEND_CONCURRENCY = 4
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield api
    api.stop()


def test_each_connection_reads_the_environment_once_not_per_message(
    provider, snapshot_day, monkeypatch
):
    subscribers = SubscriberFactory.create_batch(20)
    reads: Counter[str] = Counter()
    read = requests.sessions.get_environ_proxies

    def counted(url, no_proxy=None):
        reads[url] += 1
        return read(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)

    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))

    assert report.counts["sent"] == 20
    assert sorted(provider.stats()["accepted"]) == sorted(s.email for s in subscribers)
    assert 1 <= sum(reads.values()) <= 4  # one per sending thread's connection, not 20


def test_a_proxy_in_the_environment_is_still_used(provider, snapshot_day, monkeypatch):
    """With HTTP_PROXY pointing at a closed port every request fails: the setting was applied
    (had the connection stopped trusting the environment without copying it, they would all go
    straight to the stand-in). The rows stay queued for a retry; nothing reached the provider."""
    SubscriberFactory.create_batch(3)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")

    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))

    assert report.counts["sent"] == 0
    assert provider.stats()["accepted"] == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.QUEUED}

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the operator exempts the provider's host
    Delivery.objects.update(attempts=0)
    report = deliveries_send(delivery_ids=list(Delivery.objects.values_list("pk", flat=True)))
    assert report.counts["sent"] == 3
