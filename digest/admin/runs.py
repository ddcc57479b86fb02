"""Fetch runs: what each fetch brought in, what it skipped and why."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from digest.admin.badges import badge
from digest.admin.readonly import ReadOnlyAdmin, flatten
from digest.models import FetchRun


@admin.register(FetchRun)
class FetchRunAdmin(ReadOnlyAdmin):
    list_display = (
        "for_date",
        "source",
        "status_badge",
        "new",
        "updated",
        "unchanged",
        "skipped",
        "started_at",
        "finished_at",
        "short_error",
    )
    list_filter = (
        "status",
        "source",
        "stale",
        ("for_date", admin.DateFieldListFilter),
        "empty_expected",
    )
    date_hierarchy = "for_date"
    search_fields = ("error",)
    fields = (
        ("source", "for_date", "status_badge", "empty_expected", "stale"),
        ("started_at", "finished_at"),
        ("new", "updated", "unchanged", "skipped"),
        "error",
        "skipped_table",
    )
    readonly_fields = flatten(fields)

    class Media:
        css = {"all": ["admin_extra/admin.css"]}

    @admin.display(description="Status", ordering="status")
    def status_badge(self, run: FetchRun) -> SafeString:
        # An empty run on a weekend is expected; say so rather than colour it as a fault.
        if run.status == FetchRun.Status.EMPTY and run.empty_expected:
            return badge("empty (expected)", tone="muted")
        if run.stale:  # answered, but nothing new: papers/freshness.py
            return badge(f"{run.status}: {run.get_stale_display()}", tone="warn")
        return badge(run.status)

    @admin.display(description="Error")
    def short_error(self, run: FetchRun) -> str:
        return run.error if len(run.error) <= 80 else run.error[:79] + "…"

    @admin.display(description="Skipped items")
    def skipped_table(self, run: FetchRun) -> SafeString | str:
        items = [i for i in run.skipped_items or [] if isinstance(i, dict)]
        if not items:
            return "Nothing skipped."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((i.get("position", ""), i.get("id", ""), i.get("reason", "")) for i in items),
        )
        return format_html(
            '<table class="ax-table"><thead><tr><th>Position</th><th>Item id</th>'
            "<th>Why it was skipped</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )
