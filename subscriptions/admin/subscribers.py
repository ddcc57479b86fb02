"""Subscribers in the admin: find them, act on their status, export and import, and preview the
digest each one would get. Every change of status goes through subscriptions.admin.services."""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from digest.admin.badges import badge
from digest.admin.readonly import ReadOnlyInline
from digest.web.csp import allow_email
from subscriptions.admin import previews
from subscriptions.admin import services as admin_services
from subscriptions.models import Subscriber, Topic
from subscriptions.readers.services import SubscriberStateError

# An upload larger than this is a mistake (a few hundred thousand rows), not a subscriber list.
IMPORT_MAX_BYTES = 5 * 1024 * 1024


class TopicInline(ReadOnlyInline):
    # Topics are the reader's own choice; editors see them, readers change them on their page.
    model = Topic
    fields = ("query", "created_at")
    readonly_fields = fields


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with a header row: email, topics (separated by ;) and "
        "optionally cadence, weekday, hour, timezone, cap."
    )
    confirmed = forms.BooleanField(
        required=False,
        label="These people already gave consent elsewhere",
        help_text="They become active at once, with the file recorded as the consent source. "
        "Leave unticked to import them as pending.",
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB.")
        return upload


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    change_list_template = "admin/subscriptions/subscriber/change_list.html"
    change_form_template = "admin/subscriptions/subscriber/change_form.html"
    list_display = (
        "email",
        "status_badge",
        "cadence",
        "delivery_hour",
        "timezone",
        "max_papers",
        "topic_count",
        "created_at",
        "confirmed_at",
        "consent_source",
    )
    list_filter = (
        "status",
        "cadence",
        "deliver_by",
        ("created_at", admin.DateFieldListFilter),
        "timezone",
    )
    search_fields = ("email", "topics__query", "consent_source")
    date_hierarchy = "created_at"
    actions = ["resend_confirmation", "suppress", "reactivate", "export_csv"]
    inlines = [TopicInline]
    fieldsets = (
        (None, {"fields": ("email", "status_badge", "preview_link")}),
        (
            "Delivery preferences",
            {
                "fields": (
                    ("cadence", "weekday"),
                    ("delivery_hour", "timezone"),
                    ("max_papers", "min_upvotes"),
                    "quiet_day_note",
                    # A feed-only reader's digest is published to their feed, never mailed.
                    "deliver_by",
                )
            },
        ),
        (
            "Consent",
            {
                "fields": (
                    ("requested_at", "confirmed_at", "unsubscribed_at"),
                    ("consent_source", "consent_ip"),
                    "consent_text",
                )
            },
        ),
    )
    readonly_fields = (
        "email",
        "status_badge",
        "preview_link",
        "requested_at",
        "confirmed_at",
        "unsubscribed_at",
        "consent_source",
        "consent_ip",
        "consent_text",
    )

    class Media:
        css = {"all": ["admin_extra/admin.css"]}

    # People sign up themselves (consent) or arrive by import; erasure keeps a hashed address,
    # which a plain delete would not.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscriber]:
        return super().get_queryset(request).annotate(n_topics=Count("topics"))

    @admin.display(description="Status", ordering="status")
    def status_badge(self, subscriber: Subscriber) -> SafeString:
        return badge(subscriber.status)

    @admin.display(description="Topics", ordering="n_topics")
    def topic_count(self, subscriber: Subscriber) -> int:
        return getattr(subscriber, "n_topics", 0)

    @admin.display(description="Digest")
    def preview_link(self, subscriber: Subscriber) -> SafeString:
        url = reverse("admin:subscriptions_subscriber_preview", args=[subscriber.pk])
        return format_html('<a href="{}">Preview today\'s digest as this subscriber</a>', url)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = dict(
            Subscriber.objects.values("status").annotate(n=Count("id")).values_list("status", "n")
        )
        status_counts = [(s, counts.get(s, 0)) for s in Subscriber.Status.values]
        return super().changelist_view(
            request, {"status_counts": status_counts, **(extra_context or {})}
        )

    # --- Actions -----------------------------------------------------------------------------
    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Subscriber],
        service: Callable[..., bool],
        done: str,
    ) -> None:
        changed, refused = 0, []
        for subscriber in queryset:
            try:
                if service(subscriber=subscriber):
                    changed += 1
                    self.log_change(request, subscriber, done)
            except SubscriberStateError as error:
                refused.append(f"{subscriber.email} ({error})")
        unchanged = queryset.count() - changed - len(refused)
        self.message_user(
            request,
            f"{done}: {changed}; already so or not applicable: {unchanged}.",
            messages.SUCCESS,
        )
        if refused:
            self.message_user(request, "Refused: " + "; ".join(refused[:20]), messages.WARNING)

    @admin.action(
        description="Resend the confirmation email (pending only)", permissions=["change"]
    )
    def resend_confirmation(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        self._each(
            request,
            queryset,
            admin_services.subscriber_resend_confirmation,
            "Confirmation queued",
        )

    @admin.action(description="Suppress: never mail these addresses again", permissions=["change"])
    def suppress(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        self._each(request, queryset, admin_services.subscriber_suppress_by_editor, "Suppressed")

    @admin.action(
        description="Reactivate (paused, bounced or suppressed by an editor)",
        permissions=["change"],
    )
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        self._each(request, queryset, admin_services.subscriber_reactivate, "Reactivated")

    @admin.action(description="Export selected as CSV (importable)", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="subscribers-{stamp}.csv"'
        writer = csv.writer(response, lineterminator="\r\n")  # RFC 4180 line ends
        rows = admin_services.subscribers_export_rows(
            subscribers=queryset.prefetch_related("topics").order_by("email")
        )
        writer.writerows(rows)
        return response

    # --- Preview and import pages ------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="subscriptions_subscriber_import"),
            path(
                "<path:object_id>/preview/",
                wrap(self.preview_view),
                name="subscriptions_subscriber_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        subscriber = self.get_object(request, unquote(object_id))
        if subscriber is None:
            raise Http404("No such subscriber.")
        if not self.has_view_permission(request, subscriber):
            raise PermissionDenied
        day = previews.subscriber_digest_day(subscriber=subscriber)
        here = reverse("admin:subscriptions_subscriber_preview", args=[subscriber.pk])
        if request.method == "POST":
            return self._send_test(request, subscriber, day, here)
        rendered = (
            previews.subscriber_digest_preview(subscriber=subscriber, day=day) if day else None
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Digest preview for {subscriber.email}",
            "opts": self.opts,
            "original": subscriber,
            "subscriber": subscriber,
            "day": day,
            "rendered": rendered,
            "receives_mail": subscriber.status == Subscriber.Status.ACTIVE,
            "editor_email": getattr(request.user, "email", ""),
        }
        response = TemplateResponse(request, "admin/subscriptions/subscriber/preview.html", context)
        if rendered:
            # The sandboxed iframe's srcdoc keeps this page's Content-Security-Policy.
            allow_email(response, rendered.html)
        return response

    def _send_test(
        self, request: HttpRequest, subscriber: Subscriber, day: Any, here: str
    ) -> HttpResponse:
        to = getattr(request.user, "email", "")
        if not to:
            self.message_user(request, "Your admin account has no email address.", messages.ERROR)
        elif day is None or not previews.digest_send_test(subscriber=subscriber, day=day, to=to):
            self.message_user(request, "Nothing would be sent today: no test sent.", messages.INFO)
        else:
            self.message_user(request, f"Test sent to {to}.", messages.SUCCESS)
        return HttpResponseRedirect(here)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        from subscriptions.readers.importing import subscribers_import

        report = None
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                form.add_error("file", "The file is not UTF-8 text.")
            else:
                report = subscribers_import(
                    text=text, source_name=upload.name, confirmed=form.cleaned_data["confirmed"]
                )
                self.message_user(request, f"Import of {upload.name}: {report.summary()}.")
        context = {
            **self.admin_site.each_context(request),
            "title": "Import subscribers from CSV",
            "opts": self.opts,
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/subscriptions/subscriber/import.html", context)
