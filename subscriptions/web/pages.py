"""What the reader's pages share: the template folder, the 429 page, a signed link read or
answered with a page that says what went wrong and offers a new link."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from subscriptions.models import Subscriber
from subscriptions.readers.tokens import Purpose, TokenError, read_token
from subscriptions.web import forms

T = "web/subscriptions/"


def too_many(request: HttpRequest) -> HttpResponse:
    response = render(request, "web/too_many.html", status=429)
    response["Retry-After"] = "600"
    return response


def bad_link(request: HttpRequest, error: TokenError, purpose: Purpose) -> HttpResponse:
    """A friendly page for an expired, tampered or revoked link, with a way to get a new one."""
    return render(
        request,
        T + "bad_link.html",
        {"error": error, "purpose": purpose.value, "form": forms.ResendForm()},
        status=410 if error.expired else 400,
    )


def subscriber_or_page(
    request: HttpRequest, token: str, purpose: Purpose
) -> Subscriber | HttpResponse:
    """The reader a signed link names, or the page that says why the link does not work."""
    try:
        subscriber, _ = read_token(token, purpose)
    except TokenError as error:
        return bad_link(request, error, purpose)
    return subscriber
