"""The delivery log: one row per subscriber and day, with what the provider reported back."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from digest.admin.badges import badge
from digest.admin.readonly import ReadOnlyAdmin, ReadOnlyInline, flatten
from digest.models import Delivery, DeliveryEvent


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
        "papers",
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

    @admin.display(description="Events", ordering="n_events")
    def event_count(self, delivery: Delivery) -> int:
        return getattr(delivery, "n_events", 0)


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "event_type", "recipient", "esp_name", "delivery", "description")
    list_filter = ("event_type", "esp_name", ("received_at", admin.DateFieldListFilter))
    search_fields = ("recipient", "event_id", "description")
    list_select_related = ("delivery",)
