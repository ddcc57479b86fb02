"""A reader's own page, behind their signed manage link: preferences, pause, votes, follows,
library (its actions: library.py), recent digests, their private feed and how the digest
reaches them (email, feed, both), export; unsubscribe (one click, RFC 8058), resubscribe and
erase."""

from __future__ import annotations

import textwrap

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from digest.models import Paper
from subscriptions.feedback import follows, votes
from subscriptions.library.selectors import library_overview
from subscriptions.models import Subscriber
from subscriptions.readers import feeds, services, tasks
from subscriptions.readers.feeds import feed_token
from subscriptions.readers.retention import subscriber_erase
from subscriptions.readers.time_zones import time_zone_suggestions
from subscriptions.readers.tokens import Purpose, make_token
from subscriptions.web import forms
from subscriptions.web.pages import T, subscriber_or_page

# --- Manage ------------------------------------------------------------------------------------
# What "Save" means for the reader's next digest, by their status (bounced: just "Saved.").
_SAVED: dict[str, str] = {
    Subscriber.Status.ACTIVE: "Saved. Your next digest uses these settings.",
    Subscriber.Status.PAUSED: "Saved. Your digest is paused; it uses these settings when you "
    "resume.",
    Subscriber.Status.UNSUBSCRIBED: "Saved. You're unsubscribed, so no digest is sent; "
    "resubscribe and it uses these settings.",
    Subscriber.Status.PENDING: "Saved. Confirm your address with the link we emailed you and "
    "your first digest uses these settings.",
}


@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = subscriber_or_page(request, token, Purpose.MANAGE)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    form = forms.ManageForm.for_subscriber(subscriber)
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "pause":
                services.subscriber_pause(subscriber=subscriber)
                messages.success(request, "Paused. No digests until you resume.")
            elif action in _VOTE_ACTIONS:
                _manage_votes(request, subscriber, action)
            elif action in _FEED_ACTIONS:
                _manage_feed(request, subscriber, action)
            elif action == "resume":
                services.subscriber_resume(subscriber=subscriber)
                messages.success(request, "Resumed. Your next digest goes out as scheduled.")
            else:
                form = forms.ManageForm(request.POST)
                if form.is_valid():
                    services.subscriber_update_preferences(
                        subscriber=subscriber, preferences=form.preferences()
                    )
                    messages.success(request, _SAVED.get(subscriber.status, "Saved."))
        except services.SubscriberStateError as error:
            messages.error(request, str(error))
        if form.is_bound and not form.is_valid():
            status = 400
        else:
            return redirect("subscriptions:manage", token=token)
    else:
        status = 200
    sent = subscriber.deliveries.filter(status="sent").order_by("-digest_date")[:10]
    # Each with its "view in browser" token, as in the email itself.
    deliveries = [(d, make_token(subscriber, Purpose.VIEW, extra=d.pk)) for d in sent]
    shown_votes = list(votes.subscriber_votes(subscriber=subscriber)[:MANAGE_VOTES_SHOWN])
    vote_count = subscriber.votes.count() if len(shown_votes) == MANAGE_VOTES_SHOWN else 0
    context = {
        "subscriber": subscriber,
        "votes": shown_votes,
        "vote_count": max(vote_count, len(shown_votes)),
        "older_votes": max(vote_count - len(shown_votes), 0),
        "form": form,
        "token": token,
        "deliveries": deliveries,
        "follows": follows.follows_running(subscriber=subscriber),
        "library": library_overview(subscriber_id=subscriber.pk),
        "library_form": forms.LibraryUploadForm(),
        "unsubscribe_token": make_token(subscriber, Purpose.UNSUBSCRIBE),
        "time_zones": time_zone_suggestions(),
        "feed_url": settings.SITE_URL + reverse("feeds:reader", args=[feed_token(subscriber)]),
        "deliver_by_form": forms.DeliverByForm(initial={"deliver_by": subscriber.deliver_by}),
    }
    return render(request, T + "manage.html", context, status=status)


_VOTE_ACTIONS = ("vote_remove", "votes_clear", "recommendations_off", "recommendations_on")
MANAGE_VOTES_SHOWN = 200


def _manage_votes(request: HttpRequest, subscriber: Subscriber, action: str) -> None:
    """The manage page's votes panel: remove one vote or all, switch recommendations."""
    if action == "vote_remove":
        vote_id = request.POST.get("vote", "")
        vote = (
            subscriber.votes.select_related("paper").filter(pk=int(vote_id)).first()
            if vote_id.isdigit() and len(vote_id) < 19
            else None
        )
        if vote is not None:
            votes.vote_remove(subscriber=subscriber, paper=vote.paper)
            title = textwrap.shorten(vote.paper.title, 80, placeholder="…")
            messages.success(request, f"Removed your vote on “{title}”.")
    elif action == "votes_clear":
        count = votes.votes_clear(subscriber=subscriber)
        messages.success(request, f"Removed all your votes ({count}).")
    else:
        enabled = action == "recommendations_on"
        votes.subscriber_set_recommendations(subscriber=subscriber, enabled=enabled)
        messages.success(
            request,
            "Recommendations are on." if enabled else "Recommendations are off; votes are kept.",
        )


_FEED_ACTIONS = ("deliver_by", "feed_new_address")


def _manage_feed(request: HttpRequest, subscriber: Subscriber, action: str) -> None:
    """The manage page's feed panel: email, feed or both; a new feed address."""
    if action == "feed_new_address":
        feeds.feed_address_renew(subscriber=subscriber)
        messages.success(
            request,
            "Your feed has a new address; the old one no longer works. "
            "Put the new one in your feed reader.",
        )
        return
    form = forms.DeliverByForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose email, feed reader, or both.")
        return
    feeds.deliver_by_set(subscriber=subscriber, deliver_by=form.cleaned_data["deliver_by"])
    messages.success(request, _DELIVER_BY_SAVED[subscriber.deliver_by])


_DELIVER_BY_SAVED: dict[str, str] = {
    Subscriber.DeliverBy.EMAIL: "Saved. Your digest comes by email.",
    Subscriber.DeliverBy.FEED: "Saved. Your digest goes to your feed reader only: no more "
    "digest emails.",
    Subscriber.DeliverBy.BOTH: "Saved. Your digest comes by email and in your feed.",
}


# --- Unsubscribe -------------------------------------------------------------------------------
# RFC 8058 one-click: mailbox providers POST `List-Unsubscribe=One-Click` with no cookies and no
# CSRF token, and a redirect would turn the POST into a GET. The signed token in the URL is the
# protection; it can only ever unsubscribe, so CSRF adds nothing here.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = subscriber_or_page(request, token, Purpose.UNSUBSCRIBE)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    if request.method == "GET" and subscriber.status != Subscriber.Status.UNSUBSCRIBED:
        return render(request, T + "unsubscribe.html", {"subscriber": subscriber})
    if request.method == "POST":
        services.subscriber_unsubscribe(subscriber=subscriber)
    context = {"subscriber": subscriber, "manage_token": make_token(subscriber, Purpose.MANAGE)}
    return render(request, T + "unsubscribed.html", context)


@require_POST
def erase(request: HttpRequest, token: str) -> HttpResponse:
    """Delete everything about the reader (a hashed address stays so they are never mailed)."""
    subscriber = subscriber_or_page(request, token, Purpose.MANAGE)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm that you want your data deleted.")
        return redirect("subscriptions:manage", token=token)
    subscriber_erase(subscriber=subscriber)
    return render(request, T + "erased.html")


@require_POST
def resubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """Undo an unsubscribe. Behind a manage token (expiring, revocable), not the unsubscribe one,
    which never expires. A reader who had confirmed is active again at once (see the service)."""
    subscriber = subscriber_or_page(request, token, Purpose.MANAGE)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    try:
        services.subscriber_resubscribe(subscriber=subscriber)
    except services.SubscriberStateError as error:
        return render(request, T + "cannot.html", {"message": str(error)}, status=409)
    if subscriber.status == Subscriber.Status.PENDING:
        tasks.enqueue_signup_email(subscriber.email)
        return redirect("subscriptions:check_inbox")
    return render(request, T + "confirmed.html", {"subscriber": subscriber, "manage_token": token})


@require_POST
def unfollow(request: HttpRequest, token: str, paper_id: int) -> HttpResponse:
    """Stop following a paper from the manage page."""
    subscriber = subscriber_or_page(request, token, Purpose.MANAGE)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    paper = Paper.objects.filter(pk=paper_id).first()
    if paper is not None and follows.follow_stop(subscriber=subscriber, paper=paper):
        messages.success(request, f"You no longer follow \u201c{paper.title}\u201d.")
    return redirect("subscriptions:manage", token=token)
