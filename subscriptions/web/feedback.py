"""The links on a digest's cards: "More / Less like this" and "Follow". Each GET shows one button
(link scanners open every URL), each POST records; the signed token names the reader."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from digest.models import Paper
from subscriptions.feedback import follows, votes
from subscriptions.models import Vote
from subscriptions.readers import services
from subscriptions.readers.tokens import Purpose, TokenError, make_token, read_token
from subscriptions.web import forms
from subscriptions.web.pages import T, subscriber_or_page

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


# --- Following a paper -------------------------------------------------------------------------
# The link on every paper card: a lasting token for the reader (like unsubscribe: it can only
# follow or unfollow a paper for them) and the paper's id. GET shows one button; POST acts and
# comes back to the GET page, which offers to undo.
@require_http_methods(["GET", "POST"])
def follow(request: HttpRequest, token: str, arxiv_id: str) -> HttpResponse:
    subscriber = subscriber_or_page(request, token, Purpose.FOLLOW)
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
