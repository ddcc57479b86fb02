"""The delivery log: one row per subscriber and day, with what the provider reported back."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from digest.admin.badges import badge
from digest.admin.readonly import ReadOnlyAdmin, ReadOnlyInline, flatten
from digest.models import Delivery, DeliveryEvent, Paper


class DeliveryEventInline(ReadOnlyInline):
    model = DeliveryEvent
    fields = ("event_type", "occurred_at", "received_at", "recipient", "esp_name", "description")
    readonly_fields = fields


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "digest_date",
        "subscriber_link",
        "status_badge",
        "attempts",
        "message_id",
        "short_error",
        "event_count",
        "finished_at",
    )
    list_filter = ("status", ("digest_date", admin.DateFieldListFilter))
    date_hierarchy = "digest_date"
    search_fields = ("subscriber__email", "message_id", "error")
    list_select_related = ("subscriber",)
    inlines = [DeliveryEventInline]
    fields = (
        ("subscriber_link", "digest_date", "status_badge"),
        ("created_at", "enqueued_at", "claimed_at", "finished_at"),
        ("attempts", "message_id"),
        "subject",
        "error",
        "papers_sent",
    )
    readonly_fields = flatten(fields)

    class Media:
        css = {"all": ["admin_extra/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).annotate(n_events=Count("events"))

    @admin.display(description="Subscriber", ordering="subscriber__email")
    def subscriber_link(self, delivery: Delivery) -> SafeString:
        url = reverse("admin:subscriptions_subscriber_change", args=[delivery.subscriber_id])
        return format_html('<a href="{}">{}</a>', url, delivery.subscriber.email)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, delivery: Delivery) -> SafeString:
        return badge(delivery.status)

    @admin.display(description="Error")
    def short_error(self, delivery: Delivery) -> str:
        return delivery.error if len(delivery.error) <= 80 else delivery.error[:79] + "…"

    @admin.display(description="Papers")
    def papers_sent(self, delivery: Delivery) -> SafeString:
        """What the email held, section by section, each paper linked to its admin page."""
        items = [item for item in delivery.papers or [] if isinstance(item, dict)]
        ids = {str(item.get("arxiv_id", "")) for item in items}
        papers = {p.arxiv_id: p for p in Paper.objects.filter(arxiv_id__in=ids).only("title")}
        rows = []
        for item in items:
            arxiv_id = str(item.get("arxiv_id", ""))
            paper = papers.get(arxiv_id)
            what = str(item.get("kind") or _reason_text(item.get("reason") or {}))
            link = (
                reverse("admin:digest_paper_change", args=[paper.pk])
                if paper is not None
                else f"https://arxiv.org/abs/{arxiv_id}"  # deleted here since
            )
            rows.append(
                (item.get("section", ""), link, arxiv_id, paper.title if paper else "", what)
            )
        if not rows:
            return format_html("{}", "none")
        return format_html(
            '<ol class="delivery-papers">{}</ol>',
            format_html_join(
                "",
                '<li>{}: <a href="{}">{}</a> {} <span class="muted">{}</span></li>',
                rows,
            ),
        )

    @admin.display(description="Events", ordering="n_events")
    def event_count(self, delivery: Delivery) -> int:
        return getattr(delivery, "n_events", 0)


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "event_type", "recipient", "esp_name", "delivery", "description")
    list_filter = ("event_type", "esp_name", ("received_at", admin.DateFieldListFilter))
    search_fields = ("recipient", "event_id", "description")
    list_select_related = ("delivery",)


def _reason_text(reason: dict[str, object]) -> str:
    """A stored reason in words: the recommendation's, or the topics it matched."""
    if reason.get("text"):
        return str(reason["text"])
    topics = reason.get("labels") or reason.get("topics") or []
    return "matches " + ", ".join(map(str, topics)) if isinstance(topics, list) and topics else ""
