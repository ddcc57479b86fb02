"""Joining: the signup form with its live topic preview, "check your inbox", a new link, and
the confirmation. No accounts: the confirmation link mailed to the address is the key."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from subscriptions.library.starter import signup_library_record, starter_recommended
from subscriptions.models import Subscriber
from subscriptions.readers import services, tasks
from subscriptions.readers.time_zones import time_zone_suggestions
from subscriptions.readers.tokens import Purpose, make_token
from subscriptions.web import forms
from subscriptions.web.client_ip import client_ip
from subscriptions.web.pages import T, subscriber_or_page, too_many
from subscriptions.web.preview import topic_preview
from subscriptions.web.ratelimits import preview_limited, signup_limited


# --- Signup ------------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    """The answer to a valid POST is the same redirect whoever the address belongs to, and the
    email work is always queued (the task decides what, if anything, to send)."""
    if request.method == "POST":
        form = forms.SignupForm(request.POST, request.FILES)
        if form.is_valid():
            if signup_limited(request):
                return too_many(request)
            if not form.is_bot():
                subscriber = services.subscriber_request(
                    email=form.cleaned_data["email"],
                    preferences=form.preferences(),
                    consent_ip=client_ip(request) or None,
                    consent_text=forms.consent_text(),
                )
                signup_library_record(
                    subscriber=subscriber, liked=form.cleaned_data["starter"], upload=form.upload
                )
                tasks.enqueue_signup_email(form.cleaned_data["email"])
            return redirect("subscriptions:check_inbox")
    else:
        form = forms.SignupForm(initial={"email": request.GET.get("email", "")[:254]})
    return render(
        request,
        T + "subscribe.html",
        {
            "form": form,
            "consent_text": forms.consent_text(),
            "time_zones": time_zone_suggestions(),
        },
    )


@require_GET
def check_inbox(request: HttpRequest) -> HttpResponse:
    return render(request, T + "check_inbox.html")


@require_POST
def resend(request: HttpRequest) -> HttpResponse:
    """A new confirmation link (or a manage link for a confirmed reader), after an old one failed.
    Answers like the signup form: the same redirect for every address."""
    form = forms.ResendForm(request.POST)
    if not form.is_valid():
        return render(request, T + "bad_link.html", {"form": form, "purpose": ""}, status=400)
    if signup_limited(request):
        return too_many(request)
    tasks.enqueue_signup_email(form.cleaned_data["email"], asked="link")
    return redirect("subscriptions:check_inbox")


@require_GET
def preview(request: HttpRequest) -> HttpResponse:
    """An HTML fragment for the live preview: what this topic matched in the last week."""
    if preview_limited(request):
        return render(request, T + "_preview_limited.html", status=429)
    result = topic_preview(query=request.GET.get("q", "")[:200])
    response = render(
        request, T + "_preview.html", {"preview": result}, status=400 if result.error else 200
    )
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def starter_preview(request: HttpRequest) -> HttpResponse:
    """An HTML fragment for the signup form: the Recommended section the ticked starter papers
    would bring in the first digest."""
    if preview_limited(request):
        return render(request, T + "_preview_limited.html", status=429)
    picks = starter_recommended(arxiv_ids=request.GET.getlist("like")[:20])
    response = render(request, T + "_starter_preview.html", {"picks": picks})
    response["Cache-Control"] = "no-store"
    return response


# --- Confirm -----------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button (mail scanners open links); POST confirms."""
    subscriber = subscriber_or_page(request, token, Purpose.CONFIRM)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    already = subscriber.status in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED)
    if request.method == "GET" and not already:
        return render(request, T + "confirm.html", {"subscriber": subscriber})
    try:
        services.subscriber_confirm(subscriber=subscriber)
    except services.SubscriberStateError as error:
        return render(request, T + "cannot.html", {"message": str(error)}, status=409)
    manage_token = make_token(subscriber, Purpose.MANAGE)
    context = {"subscriber": subscriber, "manage_token": manage_token, "already": already}
    return render(request, T + "confirmed.html", context)
