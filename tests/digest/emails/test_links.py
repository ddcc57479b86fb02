"""Absolute URLs in emails: one helper for the digest and the reader's one-off emails."""

from django.test import override_settings
from django.urls import reverse

from digest.emails.links import absolute_url


@override_settings(SITE_URL="https://digest.example.org")
def test_absolute_url_matches_reverse_for_every_argument_count():
    cases = [
        ("subscriptions:subscribe", ()),
        ("digest:archive", ("2026-12-08",)),
        ("digest:paper", ("2026-12-08", "2409.10594")),
        ("digest:paper", ("2026-12-08", "hep-th/9901001")),  # old-style ids keep their slash
        ("subscriptions:unsubscribe", ("AbC_-12.token",)),
    ]
    for name, args in cases:
        expected = "https://digest.example.org" + reverse(name, args=list(args))
        assert absolute_url(name, *args) == expected


def test_absolute_url_follows_site_url():
    with override_settings(SITE_URL="https://a.example"):
        first = absolute_url("digest:archive", "2026-12-08")
    with override_settings(SITE_URL="https://b.example"):
        second = absolute_url("digest:archive", "2026-12-08")
    assert first.startswith("https://a.example/") and second.startswith("https://b.example/")
