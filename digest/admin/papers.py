"""The Paper list: what came in, how it is curated, and one-click curation on every row."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe

from digest.admin.badges import badges, curation_state
from digest.admin.filters import CategoryFilter, CurationStateFilter, SourceFilter
from digest.admin.today import today_view
from digest.models import CurationChange, Paper, PaperEvent
from digest.papers import curation

# URL name -> (service, past tense for the message). The row buttons and Today's digest post here.
CURATION_ACTIONS: dict[str, tuple[Callable[..., Paper], str]] = {
    "feature": (curation.paper_feature, "Featured"),
    "unfeature": (curation.paper_unfeature, "Unfeatured"),
    "pin": (curation.paper_pin, "Pinned"),
    "unpin": (curation.paper_unpin, "Unpinned"),
    "hide": (curation.paper_hide, "Hidden"),
    "unhide": (curation.paper_unhide, "Unhidden"),
}


def curation_buttons(paper: Paper, *, next_url: str, with_order: bool = False) -> str:
    """The row's buttons. They submit the page's one hidden form (see the change_list and today
    templates) through their `form` attribute, since forms can't nest inside the changelist's."""
    return render_to_string(
        "admin/digest/paper/_curation_buttons.html",
        {"paper": paper, "next": next_url, "with_order": with_order},
    )


PAPER_FIELDS = (
    "arxiv_link",
    "title",
    "authors",
    "abstract",
    "ai_summary",
    "categories",
    "listed_on",
    "upvotes",
    "comments",
    "sources",
    "github_repo",
    "project_page",
    "withdrawn_at",
)


class PaperActionForm(ActionForm):
    # Shown beside the action menu; only "Pin" reads it.
    pin_order = forms.IntegerField(
        required=False,
        min_value=0,
        label="Pin order",
        widget=forms.NumberInput({"class": "ax-order", "placeholder": "next"}),
    )


class PaperEventInline(admin.TabularInline):
    """What changed on the paper since it was first seen, as its followers are told it. Only
    `hidden` is editable (through the curation service, so it is logged)."""

    model = PaperEvent
    extra = 0
    can_delete = False
    fields = ("seen_on", "kind", "before", "after", "detail", "hidden")
    readonly_fields = ("seen_on", "kind", "before", "after", "detail")
    ordering = ("-seen_at", "-id")
    verbose_name = "event"
    verbose_name_plural = "Events (told to the paper's followers unless hidden)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    change_list_template = "admin/digest/paper/change_list.html"
    action_form = PaperActionForm
    actions = ["feature", "unfeature", "pin", "unpin", "hide", "unhide"]
    # get_list_display adds the curation buttons, which need the request.
    list_display = (
        "thumb",
        "arxiv_id",
        "title_link",
        "listed_on",
        "votes",
        "sources",
        "state",
        "pin_order",
        "editor_note",
    )
    list_display_links = ("arxiv_id",)
    # Curation is one decision per paper: the note and the pin order are edited in place.
    list_editable = ("pin_order", "editor_note")
    list_filter = (
        ("listed_on", admin.DateFieldListFilter),
        CurationStateFilter,
        CategoryFilter,
        SourceFilter,
    )
    date_hierarchy = "listed_on"
    search_fields = ("title", "abstract", "authors", "=arxiv_id")
    ordering = ("-listed_on", "-upvotes")
    list_per_page = 50
    # Django 5.x warns that URL form fields will assume https; they are read-only here anyway.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        ("Curation", {"fields": ("featured", "pinned", "pin_order", "hidden", "editor_note")}),
        ("Curation log", {"fields": ("curation_log",)}),
        ("Paper", {"fields": PAPER_FIELDS}),
    )
    # What the sources wrote is shown, never edited: the next fetch would overwrite it.
    readonly_fields = ("curation_log", *PAPER_FIELDS)
    inlines = (PaperEventInline,)

    class Media:
        css = {"all": ["admin_extra/admin.css"]}

    # Papers come from the sources and come back on the next fetch: hiding is the way to remove
    # one, and adding one by hand would have no listing to keep it up to date.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_list_display(self, request: HttpRequest) -> Any:
        # The buttons send the editor back to this very page, filters and all.
        next_url = request.get_full_path()

        def curate(paper: Paper) -> str:
            return curation_buttons(paper, next_url=next_url)

        curate.short_description = "Curate"  # type: ignore[attr-defined]
        return (*self.list_display, curate)

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[ModelForm]:
        kwargs["widgets"] = {
            "editor_note": forms.TextInput({"size": 24, "placeholder": "note"}),
            "pin_order": forms.NumberInput({"class": "ax-order", "min": 0}),
        }
        return super().get_changelist_form(request, **kwargs)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Paper], search_term: str
    ) -> tuple[QuerySet[Paper], bool]:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term and not term.isascii():
            # SQLite stores JSON with non-ASCII characters escaped ("M\u00fcller"), so an
            # author search for "Müller" also looks for the escaped spelling.
            escaped = json.dumps(term)[1:-1]
            queryset |= self.model.objects.filter(authors__icontains=escaped)
        return queryset, may_have_duplicates

    @admin.display(description="")
    def thumb(self, paper: Paper) -> SafeString:
        if not paper.thumbnail:
            return mark_safe('<span class="ax-thumb"></span>')
        return format_html(
            '<img class="ax-thumb" src="{}" alt="" loading="lazy" referrerpolicy="no-referrer">',
            paper.thumbnail,
        )

    @admin.display(description="▲ / comments", ordering="-upvotes")
    def votes(self, paper: Paper) -> SafeString:
        # One column for both keeps the row narrow enough for the buttons.
        return format_html(
            '<span title="upvotes">▲ {}</span><br><span class="ax-small">{} comments</span>',
            paper.upvotes,
            paper.comments,
        )

    @admin.display(description="Title", ordering="title")
    def title_link(self, paper: Paper) -> SafeString:
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>',
            paper.abs_url,
            paper.title,
        )

    @admin.display(description="arXiv")
    def arxiv_link(self, paper: Paper) -> SafeString:
        return format_html('<a href="{0}" rel="noopener noreferrer">{0}</a>', paper.abs_url)

    @admin.display(description="State")
    def state(self, paper: Paper) -> SafeString:
        return badges(curation_state(paper))

    @admin.display(description="Changes")
    def curation_log(self, paper: Paper) -> SafeString | str:
        changes = CurationChange.objects.filter(paper=paper).select_related("editor")[:100]
        if not changes:
            return "No curation yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{c.at:%Y-%m-%d %H:%M}",
                    c.editor.get_username() if c.editor else "—",
                    c.action,
                    c.detail,
                )
                for c in changes
            ),
        )
        return format_html(
            '<table class="ax-table"><thead><tr><th>When (UTC)</th><th>Editor</th>'
            "<th>Action</th><th>What changed</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def save_model(self, request: HttpRequest, obj: Paper, form: ModelForm, change: bool) -> None:
        # Only curation fields are editable, and they go through the services so that each
        # change is logged; the rest of the row is not saved back, so an upvote count refreshed
        # by a fetch while the form was open is not overwritten with the old one.
        fields = [f for f in curation.CURATION_FIELDS if f in form.changed_data]
        changed = {f: form.cleaned_data[f] for f in fields}
        if not changed:
            return
        curation.paper_curate(
            paper=obj,
            editor=request.user,
            featured=changed.get("featured"),
            pinned=changed.get("pinned"),
            pin_order=changed.get("pin_order"),
            hidden=changed.get("hidden"),
            note=changed.get("editor_note"),
        )

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: Any, change: bool
    ) -> None:
        # The events' inline: only `hidden` changes, through the service that logs it.
        if formset.model is not PaperEvent:
            return super().save_formset(request, form, formset, change)
        # What formset.save() would have recorded, for the admin's change message.
        formset.new_objects, formset.deleted_objects, formset.changed_objects = [], [], []
        for event_form in formset.forms:
            if "hidden" in event_form.changed_data and event_form.instance.pk:
                curation.paper_event_hide(
                    event_id=event_form.instance.pk,
                    hidden=event_form.cleaned_data["hidden"],
                    editor=request.user,
                )
                formset.changed_objects.append((event_form.instance, ["hidden"]))
        return None

    # --- Actions on a selection --------------------------------------------------------------
    def _apply(
        self, request: HttpRequest, queryset: QuerySet[Paper], name: str, **kwargs: Any
    ) -> None:
        service, done = CURATION_ACTIONS[name]
        changed = 0
        for paper in queryset.order_by("-listed_on", "-upvotes", "arxiv_id"):
            before = paper.updated_at
            service(paper=paper, editor=request.user, **kwargs.get(str(paper.pk), {}))
            changed += paper.updated_at != before
        unchanged = queryset.count() - changed
        note = f" ({unchanged} already were)" if unchanged else ""
        self.message_user(request, f"{done} {changed} paper(s){note}.", messages.SUCCESS)

    @admin.action(description="Feature selected papers", permissions=["change"])
    def feature(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._apply(request, queryset, "feature")

    @admin.action(description="Unfeature selected papers", permissions=["change"])
    def unfeature(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._apply(request, queryset, "unfeature")

    @admin.action(
        description="Pin selected papers (at the pin order, or after the pinned)",
        permissions=["change"],
    )
    def pin(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        # Read the field beside the menu directly: the action form's own validation needs the
        # action choices, which only the changelist fills in.
        field = PaperActionForm.base_fields["pin_order"]
        try:
            start = field.clean(request.POST.get("pin_order", ""))
        except forms.ValidationError as error:
            self.message_user(request, f"Pin order: {' '.join(error.messages)}", messages.ERROR)
            return
        per_paper: dict[str, dict[str, int]] = {}
        if start is not None:
            # The selection keeps its list order, starting at the order typed beside the menu.
            ordered = queryset.order_by("-listed_on", "-upvotes", "arxiv_id")
            per_paper = {str(p.pk): {"order": start + i} for i, p in enumerate(ordered)}
        self._apply(request, queryset, "pin", **per_paper)

    @admin.action(description="Unpin selected papers", permissions=["change"])
    def unpin(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._apply(request, queryset, "unpin")

    @admin.action(description="Hide selected papers", permissions=["change"])
    def hide(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._apply(request, queryset, "hide")

    @admin.action(description="Unhide selected papers", permissions=["change"])
    def unhide(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._apply(request, queryset, "unhide")

    # --- One-click buttons and Today's digest ------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        # Before the default URLs: their "<path:object_id>/" would swallow these.
        return [
            path("today/", wrap(self.today), name="{}_{}_today".format(*info)),
            path(
                "<path:object_id>/curate/<str:action>/",
                wrap(self.curate),
                name="{}_{}_curate".format(*info),
            ),
            *super().get_urls(),
        ]

    def today(self, request: HttpRequest) -> HttpResponse:
        return today_view(self, request)

    def curate(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """One button press. POST only (admin_view adds the CSRF check), then back where the
        editor was."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if action not in CURATION_ACTIONS:
            raise Http404("No such curation action.")
        paper = self.get_object(request, unquote(object_id))
        if paper is None:
            raise Http404("No such paper.")
        if not self.has_change_permission(request, paper):
            raise PermissionDenied
        service, done = CURATION_ACTIONS[action]
        kwargs: dict[str, int] = {}
        if action == "pin":
            raw = (request.POST.get(f"order-{paper.pk}") or "").strip()
            if raw:
                if not raw.isdigit():
                    self.message_user(request, "A pin order is a whole number.", messages.ERROR)
                    return self._back(request)
                kwargs["order"] = int(raw)
        service(paper=paper, editor=request.user, **kwargs)
        title = textwrap.shorten(paper.title, 60, placeholder="…")
        self.message_user(request, f"{done}: {paper.arxiv_id} {title}")
        return self._back(request)

    def _back(self, request: HttpRequest) -> HttpResponseRedirect:
        next_url = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("admin:digest_paper_changelist")
        return HttpResponseRedirect(next_url)
