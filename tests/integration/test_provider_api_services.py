"""Sending through a provider's HTTP API with many messages in flight: PostgreSQL, Redis,
`celery -A digest worker` (two pool processes), anymail's Postmark backend and a local server
speaking Postmark's API that answers after 100 ms (tests/support/provider_api.py).

What a subscriber would notice: exactly one digest each, whatever happens to the worker, and
the provider's limits kept by every worker together.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from digest.models import Delivery
from tests.integration.conftest import Worker, make_subscribers, settled, statuses
from tests.support.provider_api import TOKEN, ProviderAPI, Throttle
from tests.support.real_services import free_port, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

Status = Delivery.Status
LATENCY = 0.1
IN_FLIGHT = 8  # SEND_CONCURRENCY per worker process
PROCESSES = 2  # `celery -A digest worker` on this 2-core machine: a prefork pool of two


@pytest.fixture
def start_provider() -> Iterator[Callable[..., ProviderAPI]]:
    started: list[ProviderAPI] = []

    def start(throttle: Throttle | None = None) -> ProviderAPI:
        api = ProviderAPI(free_port(), latency=LATENCY, throttle=throttle)
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


def through(worker: Worker, api: ProviderAPI, **env: str) -> Worker:
    """The worker sends with anymail's Postmark backend to the stand-in."""
    worker.env.update(
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL_POSTMARK_SERVER_TOKEN=TOKEN,
        ANYMAIL_POSTMARK_API_URL=api.url,
        SEND_CONCURRENCY=str(IN_FLIGHT),
        **env,
    )
    return worker


def accepted_once(api: ProviderAPI, emails: set[str]) -> Counter[str]:
    accepted = Counter(api.stats()["accepted"])
    doubles = {address: n for address, n in accepted.items() if n > 1}
    assert not doubles, f"second copies: {doubles}"
    assert set(accepted) <= emails
    return accepted


def test_2000_subscribers_each_once_with_messages_in_flight(worker, start_provider, listing_day):
    api = start_provider()
    subscribers = make_subscribers(2000)
    through(worker, api).start()
    worker.call("digest.plan_deliveries")
    wait_for(settled(2000), timeout=300, what="2000 deliveries to settle")

    assert statuses() == {Status.SENT: 2000}
    assert accepted_once(api, {s.email for s in subscribers}) == Counter(
        s.email for s in subscribers
    )
    stats = api.stats()
    # Never more than SEND_CONCURRENCY per process in flight, and more than one process's worth
    # at times: the two pool processes each keep several requests waiting on the provider.
    assert IN_FLIGHT < stats["most_in_flight"] <= IN_FLIGHT * PROCESSES
    # Each row keeps the provider's own message id (for its webhooks).
    message_ids = list(Delivery.objects.values_list("message_id", flat=True))
    assert len(set(message_ids)) == 2000 and all(len(m) == 36 for m in message_ids)


def test_worker_killed_with_messages_in_flight_sends_each_digest_at_most_once(
    worker, start_provider, listing_day
):
    api = start_provider()
    subscribers = make_subscribers(2000)
    emails = {s.email for s in subscribers}
    through(worker, api).start()
    worker.call("digest.plan_deliveries")
    wait_for(lambda: len(api.stats()["accepted"]) >= 500, timeout=120, what="500 accepted")

    worker.kill()  # SIGKILL to the worker and its pool: no ack, no cleanup, requests cut off
    # The window: at most the rows in flight of each process were claimed and not yet marked.
    in_flight = Delivery.objects.filter(status=Status.SENDING).count()
    assert in_flight <= IN_FLIGHT * PROCESSES
    assert len(api.stats()["accepted"]) < 2000, "the run finished before the kill"

    # Past DELIVERY_SENDING_TIMEOUT and DELIVERY_REQUEUE_AFTER (3 s in the worker's env): the
    # next planner run marks the interrupted rows `unknown` and enqueues the queued ones again.
    time.sleep(4)
    worker.start()
    worker.call("digest.plan_deliveries")
    wait_for(settled(2000), timeout=300, what="every delivery to settle after the kill")

    accepted = accepted_once(api, emails)
    unknown = set(
        Delivery.objects.filter(status=Status.UNKNOWN).values_list("subscriber__email", flat=True)
    )
    assert len(unknown) == in_flight  # exactly the rows that were in flight, never resent
    counts = statuses()
    assert counts.get(Status.SENT, 0) + len(unknown) == 2000
    sent = set(
        Delivery.objects.filter(status=Status.SENT).values_list("subscriber__email", flat=True)
    )
    assert sent <= set(accepted)
    assert set(accepted) | unknown == emails
    # Another planner run later changes nothing: `unknown` rows are not resent.
    before = api.stats()["requests"]
    worker.call("digest.plan_deliveries")
    time.sleep(2)
    assert api.stats()["requests"] == before
    assert statuses() == counts


def test_429_with_retry_after_pauses_every_worker_and_loses_nothing(
    worker, start_provider, listing_day
):
    # From the 400th request on, for 1.5 s, every request gets 429 "Retry-After: 2".
    api = start_provider(Throttle(after=400, seconds=1.5, retry_after=2))
    subscribers = make_subscribers(1000)
    # The batches stopped by the 429s are retried after a second or two, not 30 s.
    through(worker, api, DELIVERY_RETRY_BACKOFF="1").start()
    worker.call("digest.plan_deliveries")
    wait_for(settled(1000), timeout=300, what="1000 deliveries to settle")

    assert statuses() == {Status.SENT: 1000}
    accepted_once(api, {s.email for s in subscribers})
    starts = api.stats()["starts"]
    throttled = [at for at, verdict in starts if verdict == "throttled"]
    assert throttled, "the provider never said 429"
    # The first 429 was answered LATENCY after its request arrived; from then on neither
    # process claimed a row for Retry-After's 2 s (only requests already in flight arrived,
    # within a few milliseconds).
    answered = throttled[0] + LATENCY
    during_pause = [at for at, _ in starts if answered + 0.25 < at < answered + 2 - 0.2]
    assert during_pause == [], f"{len(during_pause)} requests during the pause"
    # Only the requests in flight when it said so got a 429: no process kept going.
    assert len(throttled) <= IN_FLIGHT * PROCESSES


def test_send_rate_holds_across_processes_with_many_in_flight(worker, start_provider, listing_day):
    api = start_provider()
    make_subscribers(250)
    through(worker, api, SEND_RATE_PER_SECOND="50").start()
    worker.call("digest.plan_deliveries")
    wait_for(settled(250), timeout=120, what="250 deliveries to settle")

    assert statuses() == {Status.SENT: 250}
    starts = sorted(at for at, _ in api.stats()["starts"])
    assert len(starts) == 250
    # Any two seconds of the run: at most 100 requests started, whatever the two processes'
    # 2 x 8 sending threads could have done (plus a few: a slot's request reaches the server a
    # claim and a thread hand-off after the slot starts, so two can land closer together).
    busiest = max(sum(1 for other in starts[i:] if other < at + 2.0) for i, at in enumerate(starts))
    assert busiest <= 103, busiest
    assert starts[-1] - starts[0] >= 249 / 50 - 0.1
