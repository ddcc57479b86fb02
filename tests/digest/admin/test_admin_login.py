"""Only staff reach the admin, and guessing passwords is slowed down per address."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def editor():
    return get_user_model().objects.create_user(
        "editor", "editor@example.org", "right-password", is_staff=True
    )


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_five_failures_then_429_even_with_the_right_password(client, editor):
    for _ in range(5):
        response = client.post(LOGIN, {"username": "editor", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    response = client.post(LOGIN, {"username": "editor", "password": "right-password"})
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_other_addresses_are_not_limited(client, editor):
    for _ in range(5):
        client.post(LOGIN, {"username": "editor", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    response = client.post(
        LOGIN, {"username": "editor", "password": "right-password"}, REMOTE_ADDR="10.0.0.2"
    )
    assert response.status_code == 302


def test_successful_logins_do_not_count(client, editor):
    for _ in range(8):
        response = client.post(LOGIN, {"username": "editor", "password": "right-password"})
        assert response.status_code == 302
        client.logout()


def test_the_login_page_itself_is_never_limited(client, editor):
    for _ in range(6):
        client.post(LOGIN, {"username": "editor", "password": "wrong"})
    assert client.get(LOGIN).status_code == 200
