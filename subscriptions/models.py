"""People and their consent: subscribers, their topics, and the suppression list."""

from __future__ import annotations

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
    # Part of every signed link; bumping it revokes confirm and manage links.
    token_version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(delivery_hour__lte=23), name="delivery_hour_0_23"
            ),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="weekday_0_6"),
        ]
        indexes = [models.Index(fields=["status", "delivery_hour"], name="subscriber_due")]

    def __str__(self) -> str:
        return self.email


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


class Suppression(models.Model):
    """An address that must never be mailed again, kept only as a hash after erasure."""

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.reason} {self.email_hash[:12]}"
