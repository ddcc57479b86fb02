"""The reader's pages: subscribe, confirm, manage, unsubscribe. No accounts: a signed link in an
email is the reader's key. Views parse input and call services; the rules live in services."""

from __future__ import annotations

import textwrap

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from digest.models import Paper
from subscriptions import forms, tasks
from subscriptions.client_ip import client_ip
from subscriptions.feedback import follows, votes
from subscriptions.models import Subscriber, Vote
from subscriptions.preview import topic_preview
from subscriptions.ratelimits import preview_limited, signup_limited
from subscriptions.readers import services
from subscriptions.readers.retention import subscriber_erase
from subscriptions.readers.time_zones import time_zone_suggestions
from subscriptions.readers.tokens import Purpose, TokenError, make_token, read_token

T = "web/subscriptions/"


def _too_many(request: HttpRequest) -> HttpResponse:
    response = render(request, "web/too_many.html", status=429)
    response["Retry-After"] = "600"
    return response


def _bad_link(request: HttpRequest, error: TokenError, purpose: Purpose) -> HttpResponse:
    """A friendly page for an expired, tampered or revoked link, with a way to get a new one."""
    return render(
        request,
        T + "bad_link.html",
        {"error": error, "purpose": purpose.value, "form": forms.ResendForm()},
        status=410 if error.expired else 400,
    )


def _subscriber(request: HttpRequest, token: str, purpose: Purpose) -> Subscriber | HttpResponse:
    try:
        subscriber, _ = read_token(token, purpose)
    except TokenError as error:
        return _bad_link(request, error, purpose)
    return subscriber


# --- Signup ------------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    """The answer to a valid POST is the same redirect whoever the address belongs to, and the
    email work is always queued (the task decides what, if anything, to send)."""
    if request.method == "POST":
        form = forms.SignupForm(request.POST)
        if form.is_valid():
            if signup_limited(request):
                return _too_many(request)
            if not form.is_bot():
                services.subscriber_request(
                    email=form.cleaned_data["email"],
                    preferences=form.preferences(),
                    consent_ip=client_ip(request) or None,
                    consent_text=forms.consent_text(),
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
        return _too_many(request)
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


# --- Confirm -----------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button (mail scanners open links); POST confirms."""
    subscriber = _subscriber(request, token, Purpose.CONFIRM)
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
    subscriber = _subscriber(request, token, Purpose.MANAGE)
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
        "unsubscribe_token": make_token(subscriber, Purpose.UNSUBSCRIBE),
        "time_zones": time_zone_suggestions(),
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


# --- Unsubscribe -------------------------------------------------------------------------------
# RFC 8058 one-click: mailbox providers POST `List-Unsubscribe=One-Click` with no cookies and no
# CSRF token, and a redirect would turn the POST into a GET. The signed token in the URL is the
# protection; it can only ever unsubscribe, so CSRF adds nothing here.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = _subscriber(request, token, Purpose.UNSUBSCRIBE)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    if request.method == "GET" and subscriber.status != Subscriber.Status.UNSUBSCRIBED:
        return render(request, T + "unsubscribe.html", {"subscriber": subscriber})
    if request.method == "POST":
        services.subscriber_unsubscribe(subscriber=subscriber)
    context = {"subscriber": subscriber, "manage_token": make_token(subscriber, Purpose.MANAGE)}
    return render(request, T + "unsubscribed.html", context)


# --- Votes from the email's cards --------------------------------------------------------------
# Link scanners open every URL of an email, and Outlook's Safe Links even submits forms by script:
# GET only shows the paper with the vote preselected and one submit button; POST records it.
_VOTE_IN_LINK = {"more": Vote.Value.LIKE, "less": Vote.Value.DISLIKE}


@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest, token: str, arxiv_id: str) -> HttpResponse:
    try:
        subscriber, _ = read_token(token, Purpose.FEEDBACK)
    except TokenError as error:
        return render(request, T + "feedback_bad_link.html", {"error": error}, status=400)
    paper = Paper.objects.filter(arxiv_id=arxiv_id).first()
    if paper is None:
        return render(request, T + "feedback_no_paper.html", {"arxiv_id": arxiv_id}, status=404)
    if subscriber.status not in votes.VOTING_STATUSES:
        return render(request, T + "feedback_ended.html", {"paper": paper}, status=410)
    context: dict[str, object] = {
        "paper": paper,
        "token": token,
        "recommendations_enabled": subscriber.recommendations_enabled,
    }
    if request.method == "GET":
        current = votes.subscriber_vote(subscriber=subscriber, paper=paper)
        chosen = _VOTE_IN_LINK.get(request.GET.get("v", ""))
        initial = chosen or (current.value if current else Vote.Value.LIKE)
        context |= {"form": forms.VoteForm(initial={"vote": initial}), "current": current}
        return render(request, T + "feedback.html", context)

    action = request.POST.get("action", "vote")
    status = 200
    if action == "undo":
        votes.vote_remove(subscriber=subscriber, paper=paper)
        return render(request, T + "feedback_undone.html", context)
    if action == "topic":
        topic_form = forms.TopicAddForm(request.POST, subscriber=subscriber)
        if topic_form.is_valid():
            query = topic_form.cleaned_data["topic"]
            added = services.subscriber_add_topic(subscriber=subscriber, query=query)
            context |= {"added_topic": query, "already_had": not added}
        else:
            status = 400
            context["topic_form"] = topic_form  # the reader's words, with what is wrong
        vote = votes.subscriber_vote(subscriber=subscriber, paper=paper)
    else:
        form = forms.VoteForm(request.POST)
        if not form.is_valid():
            context |= {"form": form, "current": None}
            return render(request, T + "feedback.html", context, status=400)
        vote = votes.vote_record(
            subscriber=subscriber, paper=paper, value=form.cleaned_data["vote"]
        )
    context |= {
        "vote": vote,
        "suggestions": votes.topic_suggestions(paper=paper),
        "topics": set(subscriber.topics.values_list("query", flat=True)),
    }
    if vote is not None and vote.value == Vote.Value.LIKE and paper.withdrawn_at is None:
        # Liking a paper offers to follow it too (its code, new versions, the crowd).
        running = {f.paper_id for f in follows.follows_running(subscriber=subscriber)}
        context["follow_url"] = reverse(
            "subscriptions:follow", args=[make_token(subscriber, Purpose.FOLLOW), paper.arxiv_id]
        )
        context["following"] = paper.pk in running
    # Empty: the suggestions have their own buttons; this field is for the reader's own words.
    context.setdefault("topic_form", forms.TopicAddForm(subscriber=subscriber))
    return render(request, T + "feedback_recorded.html", context, status=status)


@require_POST
def erase(request: HttpRequest, token: str) -> HttpResponse:
    """Delete everything about the reader (a hashed address stays so they are never mailed)."""
    subscriber = _subscriber(request, token, Purpose.MANAGE)
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
    subscriber = _subscriber(request, token, Purpose.MANAGE)
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


# --- Following a paper -------------------------------------------------------------------------
# The link on every paper card: a lasting token for the reader (like unsubscribe: it can only
# follow or unfollow a paper for them) and the paper's id. GET shows one button; POST acts and
# comes back to the GET page, which offers to undo.
@require_http_methods(["GET", "POST"])
def follow(request: HttpRequest, token: str, arxiv_id: str) -> HttpResponse:
    subscriber = _subscriber(request, token, Purpose.FOLLOW)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    paper = Paper.objects.filter(arxiv_id=arxiv_id).first()
    if paper is None:
        return render(request, T + "cannot.html", {"message": "No such paper."}, status=404)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "follow":
            try:
                follows.follow_start(subscriber=subscriber, paper=paper)
            except ValueError as error:
                return render(request, T + "cannot.html", {"message": str(error)}, status=409)
        elif action == "unfollow":
            follows.follow_stop(subscriber=subscriber, paper=paper)
        else:
            return render(request, T + "cannot.html", {"message": "Unknown action."}, status=400)
        url = reverse("subscriptions:follow", args=[token, paper.arxiv_id])
        return redirect(f"{url}?done={action}")
    running = {f.paper_id: f for f in follows.follows_running(subscriber=subscriber)}
    context = {
        "paper": paper,
        "follow": running.get(paper.pk),
        "done": request.GET.get("done", ""),
        "follow_days": settings.FOLLOW_DAYS,
    }
    return render(request, T + "follow.html", context)


@require_POST
def unfollow(request: HttpRequest, token: str, paper_id: int) -> HttpResponse:
    """Stop following a paper from the manage page."""
    subscriber = _subscriber(request, token, Purpose.MANAGE)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    paper = Paper.objects.filter(pk=paper_id).first()
    if paper is not None and follows.follow_stop(subscriber=subscriber, paper=paper):
        messages.success(request, f"You no longer follow \u201c{paper.title}\u201d.")
    return redirect("subscriptions:manage", token=token)
