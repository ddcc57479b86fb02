"""Small coloured labels for states, shared by every list in the panel."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from digest.models import Paper

# Tone per state; the colours live in admin_extra/admin.css (and follow the admin's dark mode).
TONES = {
    "featured": "good",
    "pinned": "info",
    "hidden": "bad",
    "withdrawn": "bad",
    "ok": "good",
    "empty": "warn",
    "running": "info",
    "failed": "bad",
    "queued": "info",
    "sending": "info",
    "sent": "good",
    "rejected": "bad",
    "suppressed": "warn",
    "unknown": "warn",
    "pending": "info",
    "active": "good",
    "paused": "muted",
    "unsubscribed": "muted",
    "bounced": "bad",
    "complained": "bad",
}


def badge(label: str, *, tone: str | None = None) -> SafeString:
    return format_html(
        '<span class="ax-badge ax-{}">{}</span>',
        tone or TONES.get(label.split(" ")[0], "muted"),
        label,
    )


def badges(labels: list[str]) -> SafeString:
    return format_html_join(" ", "{}", ((badge(label),) for label in labels))


def curation_state(paper: Paper) -> list[str]:
    """A paper's curation labels, in the order the trending list weighs them."""
    labels = []
    if paper.featured:
        labels.append("featured")
    if paper.pinned:
        labels.append(f"pinned #{paper.pin_order}")
    if paper.hidden:
        labels.append("hidden")
    if paper.withdrawn_at:
        labels.append("withdrawn")
    return labels
