"""Random and hostile requests to every public URL: never a 5xx, never a mail to the operators.

At least 10,000 requests from a seeded generator (FUZZ_SEED, printed; FUZZ_REQUESTS to send more)
through Django's test client with production-like settings: DEBUG off, CSRF enforced, ADMINS set,
Postmark configured with its webhook secret, the exceptions answered as a server would
(raise_request_exception=False). The URLs, from digest/urls.py, subscriptions/urls.py,
digest/web/archive_urls.py and digest/web/urls.py: the provider's tracking webhook and the other
providers' (404), home, health, subscribe and its live preview, check-your-inbox, resend,
confirm, manage (save, pause, resume, erase), unsubscribe (its page, the form and RFC 8058's
one-click POST), resubscribe, the archive and "view in browser". Valid submissions, tokens and
webhook events are mixed in, and requests come from a pool of addresses, so the rate limits, the
cache and the services are reached, not only the validation.

A 5xx is printed with the request that caused it (method, path, headers, body) and its exception.
The same test runs on PostgreSQL in the services pass (NUL characters, integer ranges).
"""

from __future__ import annotations

import collections
import datetime as dt
import random
import time
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client

from digest.models import Delivery
from digest.papers.ingest import papers_upsert
from digest.sources.snapshot import load_snapshot
from subscriptions.models import Subscriber
from subscriptions.readers.tokens import Purpose, make_token
from tests.support.factories import SubscriberFactory
from tests.support.fuzzing import (
    OPERATOR,
    REQUESTS,
    SECRET,
    SEED,
    Request,
    World,
    hostile,
    site_request,
    webhook_request,
)

pytestmark = pytest.mark.django_db


def send(client: Client, request: Request, rng: random.Random) -> Any:
    headers = {"REMOTE_ADDR": f"198.51.100.{rng.randint(1, 40)}"}
    headers |= {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in request.headers.items()}
    if rng.random() < 0.02:
        headers["HTTP_X_FORWARDED_FOR"] = hostile(rng)
    if rng.random() < 0.02:
        headers["HTTP_ACCEPT_LANGUAGE"] = hostile(rng)
    if rng.random() < 0.01:  # not one of ALLOWED_HOSTS
        headers["HTTP_HOST"] = rng.choice(["evil.example", "testserver:99999", hostile(rng)])
    method = getattr(client, request.method.lower())
    if request.method in {"GET", "HEAD"}:
        return method(request.path, **headers)
    return method(
        request.path, data=request.data or b"", content_type=request.content_type, **headers
    )


@pytest.fixture
def world(settings) -> World:
    settings.DEBUG = False
    settings.ADMINS = [("Operators", OPERATOR)]
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.WEBHOOK_ESP = "postmark"
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "POSTMARK_SERVER_TOKEN": "token"}
    from django.core.cache import cache

    cache.clear()
    listed_on = dt.date(2026, 11, 24)
    papers_upsert(records=load_snapshot(listed_on=listed_on).records, listed_on=listed_on)
    readers: list[Any] = [
        SubscriberFactory(email="active@example.org", topics=["diffusion"]),
        SubscriberFactory(email="other@example.org", topics=["cat:cs.CL"]),
        SubscriberFactory(email="pending@example.org", status=Subscriber.Status.PENDING),
        SubscriberFactory(email="gone@example.org", status=Subscriber.Status.UNSUBSCRIBED),
    ]
    call_command("send_digests", day=listed_on.isoformat())
    deliveries = list(Delivery.objects.filter(status="sent").values_list("pk", "subscriber"))
    assert deliveries, "the digest was sent, so 'view in browser' has a real page"
    by_pk = {s.pk: s for s in readers}
    tokens = {p.value: [make_token(s, p) for s in readers] for p in Purpose if p != Purpose.VIEW}
    tokens["view"] = [make_token(by_pk[s], Purpose.VIEW, extra=d) for d, s in deliveries]
    mail.outbox.clear()
    return World(tokens=tokens, delivery_ids=[d for d, _ in deliveries], day=listed_on.isoformat())


def _endpoint(response: Any) -> str:
    """The URL pattern that answered (its route), or "(no route)" for a 404 of the resolver."""
    try:
        match = response.resolver_match
        return str(match.route) if match else "(no route)"
    except Exception:
        return "(no route)"


def run_fuzz(world: World, django_capture_on_commit_callbacks) -> None:
    rng = random.Random(SEED)
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.get("/subscribe/")
    world.csrf = client.cookies["csrftoken"].value
    counts: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    seconds: dict[str, float] = collections.defaultdict(float)
    failures: list[str] = []
    started = time.perf_counter()
    for _ in range(REQUESTS):
        is_webhook = rng.random() < 0.45
        request = webhook_request(rng, world) if is_webhook else site_request(rng, world)
        # Signup and resend emails go out after the commit, as in production.
        sent = time.perf_counter()
        with django_capture_on_commit_callbacks(execute=True):
            response = send(client, request, rng)
        endpoint = _endpoint(response)
        counts[endpoint][response.status_code] += 1
        seconds[endpoint] += time.perf_counter() - sent
        if response.status_code >= 500:
            exc = getattr(response, "exc_info", None)
            cause = repr(exc[1]) if exc else response.content[:300]
            failures.append(f"{response.status_code} for {request.describe()}\n    {cause}")
    elapsed = time.perf_counter() - started
    print(f"\nFUZZ_SEED={SEED}: {REQUESTS} requests in {elapsed:.1f} s on {connection.vendor}")
    for endpoint, statuses in sorted(counts.items()):
        spent = f"{seconds[endpoint]:5.1f} s"
        print(f"  {endpoint:40} {spent} {dict(sorted(statuses.items()))}")
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:20])
    to_operators = [m.subject for m in mail.outbox if OPERATOR in m.to]
    assert not to_operators, to_operators
    # The valid requests got through and the limits were reached.
    statuses = collections.Counter()
    for counter in counts.values():
        statuses.update(counter)
    assert statuses[200] and statuses[302] and statuses[400] and statuses[404]
    assert statuses[429], "the rate limits were reached"
    assert counts["anymail/<str:esp>/tracking/"][200] > 100, "valid events were processed"
    assert mail.outbox, "valid signups were sent their confirmation email"


def test_no_request_makes_a_server_error(world, django_capture_on_commit_callbacks):
    run_fuzz(world, django_capture_on_commit_callbacks)


@pytest.mark.services
def test_no_request_makes_a_server_error_on_postgresql(world, django_capture_on_commit_callbacks):
    assert connection.vendor == "postgresql", "the services pass runs on PostgreSQL"
    run_fuzz(world, django_capture_on_commit_callbacks)
