"""Papers, fetch runs, deliveries and what happened to them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Paper(models.Model):
    """One research paper, keyed by its bare arXiv id, merged from every source that listed it."""

    class Source(models.TextChoices):
        HF = "hf", "Hugging Face"
        ARXIV = "arxiv", "arXiv"
        SNAPSHOT = "snapshot", "Bundled snapshot"

    arxiv_id = models.CharField(max_length=32, unique=True)
    title = models.TextField()
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True)
    author_count = models.PositiveIntegerField(default=0)
    categories = models.JSONField(default=list, blank=True)
    primary_category = models.CharField(max_length=32, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    # Hugging Face's one-sentence AI summary (`paper.ai_summary`), shown as a TL;DR on cards.
    ai_summary = models.TextField("AI summary", blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # The day the paper was first listed by a source; a later listing never moves it.
    listed_on = models.DateField(db_index=True)
    upvotes = models.PositiveIntegerField(default=0, db_index=True)
    comments = models.PositiveIntegerField(default=0)
    github_repo = models.URLField(max_length=500, blank=True)
    github_stars = models.PositiveIntegerField(null=True, blank=True)
    project_page = models.URLField(max_length=500, blank=True)
    thumbnail = models.URLField(max_length=500, blank=True)
    version = models.PositiveSmallIntegerField(null=True, blank=True)
    # Every source that listed the paper, sorted and comma-joined ("arxiv,hf").
    sources = models.CharField(max_length=64, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # The day a followed paper was last refreshed (or tried: a failure waits for the next day).
    refreshed_on = models.DateField(null=True, blank=True)

    # Curation state, set by editors.
    featured = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False)
    pin_order = models.PositiveSmallIntegerField(default=0)
    hidden = models.BooleanField(default=False)
    editor_note = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-listed_on", "-upvotes", "arxiv_id"]
        indexes = [models.Index(fields=["listed_on", "-upvotes"], name="paper_day_upvotes")]

    def __str__(self) -> str:
        return f"{self.arxiv_id} {self.title[:60]}"

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def hf_url(self) -> str:
        """The paper's Hugging Face page (its upvotes and comments)."""
        return f"https://huggingface.co/papers/{self.arxiv_id}"


class FetchRun(models.Model):
    """One fetch of one source for one day: what came in and what went wrong."""

    class Status(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        EMPTY = "empty"
        FAILED = "failed"

    source = models.CharField(max_length=16, choices=Paper.Source.choices)
    for_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    new = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # [{"position": 3, "id": "...", "reason": "missing title"}, ...]
    skipped_items = models.JSONField(default=list, blank=True)
    # Weekends and arXiv holidays have no listing; an empty run then is expected, not a fault.
    empty_expected = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Stale(models.TextChoices):
        """An upstream that answered but served nothing new (digest/papers/freshness.py)."""

        FRESH = "", "fresh"
        REPEAT = "repeat", "same list as the day before"
        NO_MAILING = "no_mailing", "no mailing announced"

    # sha256 of the listing's sorted arXiv ids: a list served again the next day is seen.
    fingerprint = models.CharField(max_length=64, blank=True)
    stale = models.CharField(max_length=16, choices=Stale.choices, blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["for_date", "source"], name="fetchrun_day_source")]

    def __str__(self) -> str:
        return f"{self.source} {self.for_date} {self.status}"


class Delivery(models.Model):
    """One subscriber's digest for one day. The unique constraint is the exactly-once guarantee."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        REJECTED = "rejected"
        SUPPRESSED = "suppressed"
        # Claimed by a worker that never reported back: it may or may not have gone out.
        # Never resent automatically, so nobody gets a second copy.
        UNKNOWN = "unknown"

    FINAL = (Status.SENT, Status.FAILED, Status.REJECTED, Status.SUPPRESSED, Status.UNKNOWN)

    subscriber = models.ForeignKey(
        "subscriptions.Subscriber", on_delete=models.CASCADE, related_name="deliveries"
    )
    digest_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    message_id = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    # What was sent, enough to re-render "view in browser": [{"arxiv_id", "section", "reason"}].
    papers = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-digest_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "digest_date"], name="one_delivery_per_subscriber_day"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "digest_date"], name="delivery_status_day"),
            # /metrics counts the last days' rows by status and those finished in the last 24
            # hours: an index-only scan of three days' entries.
            models.Index(
                fields=["digest_date", "status", "finished_at"], name="delivery_day_status"
            ),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.digest_date} #{self.subscriber_id} {self.status}"


class DeliveryEvent(models.Model):
    """A delivery webhook event (bounce, complaint, ...), processed once per provider event id."""

    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=32)
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    recipient = models.CharField(max_length=254, blank=True)
    esp_name = models.CharField(max_length=32, blank=True)
    description = models.TextField(blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # /metrics counts the last 24 hours' bounces and complaints among every tracking
            # event the provider posts (delivered, opened, ...: a row per message and more).
            models.Index(fields=["event_type", "received_at"], name="deliveryevent_type_at"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.recipient}"


class CurationChange(models.Model):
    """Who changed which paper's curation state, when, and how."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="curation_changes")
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=32)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["paper", "-at"], name="curation_paper_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.paper_id}"


class PaperEvent(models.Model):
    """A change seen on a known paper (code released, new version, ...): news for its followers.

    Recorded only when the before and after values are both known (papers/ingest.py), so a paper
    first seen with its code already there has no "code released" event. Editors hide a wrong
    one (a mistaken repository link) from the paper's admin page; a hidden event is never told.
    """

    class Kind(models.TextChoices):
        CODE = "code", "Code released"
        VERSION = "version", "New version on arXiv"
        TRENDING = "trending", "Trending"
        UPVOTES = "upvotes", "Upvotes"
        PROJECT_PAGE = "project_page", "Project page added"

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    before = models.CharField(max_length=500, blank=True)
    after = models.CharField(max_length=500, blank=True)
    # What a reader is told beside the kind: the repository and its stars, the arXiv comment.
    detail = models.TextField(blank=True)
    seen_at = models.DateTimeField()
    # The day the change was seen (the fetch's day), which digests count from.
    seen_on = models.DateField()
    hidden = models.BooleanField(default=False)

    class Meta:
        ordering = ["-seen_at", "-id"]
        indexes = [models.Index(fields=["seen_on", "paper"], name="paperevent_day_paper")]

    def __str__(self) -> str:
        return f"{self.seen_on} {self.kind} {self.paper_id}"
