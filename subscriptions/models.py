"""People and their consent: subscribers, their topics, their votes on papers, and the
suppression list."""

from __future__ import annotations

import calendar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Subscriber(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"
        PAUSED = "paused"
        UNSUBSCRIBED = "unsubscribed"
        BOUNCED = "bounced"
        COMPLAINED = "complained"

    class Cadence(models.TextChoices):
        DAILY = "daily"
        WEEKLY = "weekly"

    class DeliverBy(models.TextChoices):
        EMAIL = "email", "Email"
        FEED = "feed", "Feed reader only (no email)"
        BOTH = "both", "Email and feed reader"

    # Stored normalised (see services.normalize_email), so uniqueness is case-insensitive.
    email = models.EmailField(max_length=254, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Consent provenance: when, from where (an IP or an import file), and which wording.
    requested_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(max_length=255, blank=True)
    consent_ip = models.GenericIPAddressField(null=True, blank=True)
    consent_text = models.TextField(blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    cadence = models.CharField(max_length=8, choices=Cadence.choices, default=Cadence.DAILY)
    # Weekly digests go out on this weekday (0 = Monday).
    weekday = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(6)])
    delivery_hour = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(0), MaxValueValidator(23)]
    )
    timezone = models.CharField(max_length=64, default="UTC")
    max_papers = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    min_upvotes = models.PositiveIntegerField(default=0)
    quiet_day_note = models.BooleanField(default=False)
    # Off: the reader's votes are kept (and listed on the manage page) but nothing is
    # recommended from them.
    recommendations_enabled = models.BooleanField(default=True)
    # Part of every signed link; bumping it revokes confirm and manage links.
    token_version = models.PositiveIntegerField(default=1)
    # How the digest reaches the reader: a feed-only reader's digest is built on their schedule
    # and published to their feed, never mailed (digest.delivery.sender).
    deliver_by = models.CharField(max_length=8, choices=DeliverBy.choices, default=DeliverBy.EMAIL)
    # Part of the feed address only (subscriptions.readers.feeds): "new feed address" bumps it,
    # which revokes the old address and nothing else.
    feed_generation = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(delivery_hour__lte=23), name="delivery_hour_0_23"
            ),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="weekday_0_6"),
            models.CheckConstraint(
                condition=models.Q(deliver_by__in=["email", "feed", "both"]),
                name="deliver_by_email_feed_both",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "delivery_hour"], name="subscriber_due"),
            # /metrics counts readers by status, time zone and hour from this index alone.
            models.Index(
                fields=["status", "timezone", "delivery_hour"], name="subscriber_schedule"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def schedule(self) -> str:
        """When the digest comes, in words: "daily at 07:00 (Europe/Paris)", "every Wednesday
        at 18:00 (America/New_York)"."""
        when = "daily"
        if self.cadence == self.Cadence.WEEKLY:
            when = "every " + calendar.day_name[self.weekday]
        return f"{when} at {self.delivery_hour:02d}:00 ({self.timezone})"


class Topic(models.Model):
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="topics")
    query = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "query"], name="unique_topic_query"),
        ]

    def __str__(self) -> str:
        return self.query


class Vote(models.Model):
    """A reader's "More like this" / "Less like this" on one paper, from an email's card or the
    "view in browser" page. One per reader and paper: a second vote replaces the first. Erasing
    the reader (or the paper) deletes it."""

    class Value(models.TextChoices):
        LIKE = "like", "More like this"
        DISLIKE = "dislike", "Less like this"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="votes")
    paper = models.ForeignKey("digest.Paper", on_delete=models.CASCADE, related_name="votes")
    value = models.CharField(max_length=8, choices=Value.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "paper"], name="unique_vote_per_paper"),
            models.CheckConstraint(
                condition=models.Q(value__in=["like", "dislike"]), name="vote_value_like_dislike"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value} {self.paper_id} by {self.subscriber_id}"


class Follow(models.Model):
    """A reader following a paper: its events go into their digest until the follow expires.

    What was told is recorded in each delivery's `papers` (section "updates", with the event
    id), so "each event once per reader" follows from "each digest once" without a write per
    reader, and a batch reads it with the delivery history it reads anyway.
    """

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="follows")
    paper = models.ForeignKey("digest.Paper", on_delete=models.CASCADE, related_name="follows")
    followed_at = models.DateTimeField()
    renewed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    # Set when the paper is withdrawn: nothing more is told about it.
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table keeps the name it had when the model lived in digest.
        db_table = "digest_follow"
        ordering = ["-followed_at"]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "paper"], name="one_follow_per_paper"),
        ]

    def __str__(self) -> str:
        return f"#{self.subscriber_id} follows {self.paper_id}"


class Suppression(models.Model):
    """An address that must never be mailed again, kept only as a hash after erasure."""

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.reason} {self.email_hash[:12]}"


class LibraryImport(models.Model):
    """One upload or paste of a reader's reference library: the file waits here for the task,
    which writes its progress and result back (the manage page shows them) and clears it."""

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="library_imports"
    )
    file_name = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=16)
    content = models.TextField(blank=True)  # cleared once imported
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    progress = models.CharField(max_length=200, blank=True)
    entries = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    looked_up = models.PositiveIntegerField(default=0)  # abstracts found by arXiv id
    skipped = models.JSONField(default=list, blank=True)  # [{"line": 88, "reason": "..."}]
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["running", "done", "failed"]),
                name="library_import_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name or 'pasted list'} ({self.status})"

    @property
    def summary(self) -> str:
        """ "142 papers imported, 3 skipped (line 88: no title; ...)"."""
        if self.status == self.Status.RUNNING:
            return f"Importing {self.file_name or 'your list'}: {self.progress or 'starting'}"
        if self.status == self.Status.FAILED:
            return f"The import of {self.file_name or 'your list'} failed: {self.error}"
        text = f"{self.imported} paper{'' if self.imported == 1 else 's'} imported"
        if self.duplicates:
            text += f", {self.duplicates} already in your library"
        if self.skipped:
            shown = "; ".join(f"line {s['line']}: {s['reason']}" for s in self.skipped[:5])
            more = f"; and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
            text += f", {len(self.skipped)} skipped ({shown}{more})"
        return text


class LibraryPaper(models.Model):
    """A paper from a reader's reference library: a positive example for their
    recommendations, like a "More like this" vote, and a paper they already have (never
    recommended, never in the topic section). Its identity within the library is its arXiv id,
    else its DOI, else its normalised title (`title_key`): importing a file twice adds nothing.
    `weight` is how many of the library's papers this one stands for when the model scores
    with a summary of a large library (`subscriptions.library.summary`); 0 means it is not
    one of the representatives."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="library")
    title = models.CharField(max_length=1000, blank=True)
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True)
    arxiv_id = models.CharField(max_length=32, blank=True)
    doi = models.CharField(max_length=255, blank=True)
    title_key = models.CharField(max_length=255, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    weight = models.FloatField(default=0.0)
    source = models.ForeignKey(
        LibraryImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="papers"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-added_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "arxiv_id"],
                condition=~models.Q(arxiv_id=""),
                name="library_unique_arxiv_id",
            ),
            models.UniqueConstraint(
                fields=["subscriber", "doi"],
                condition=~models.Q(doi=""),
                name="library_unique_doi",
            ),
            models.UniqueConstraint(
                fields=["subscriber", "title_key"],
                condition=~models.Q(title_key=""),
                name="library_unique_title",
            ),
            models.CheckConstraint(
                condition=~models.Q(arxiv_id="", title=""), name="library_title_or_arxiv_id"
            ),
            models.CheckConstraint(condition=models.Q(weight__gte=0), name="library_weight_gte_0"),
        ]
        # The batch's read of the papers the model scores with: `weight > 0` for a batch of
        # readers, without reading their other papers (a partial index would not serve a
        # parameterised `weight > %s` on SQLite).
        indexes = [models.Index(fields=["subscriber", "weight"], name="library_positives")]

    def __str__(self) -> str:
        return self.title or f"arXiv {self.arxiv_id}"

    @property
    def key(self) -> str:
        """The name the model knows it by: its arXiv id, else one of its own."""
        return self.arxiv_id or f"library:{self.pk}"
