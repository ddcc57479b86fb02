"""List filters for papers that the admin's built-in ones can't express."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from digest.models import Paper


class CurationStateFilter(admin.SimpleListFilter):
    title = "curation state"
    parameter_name = "state"

    QUERIES = {
        "featured": Q(featured=True),
        "pinned": Q(pinned=True),
        "hidden": Q(hidden=True),
        "plain": Q(featured=False, pinned=False, hidden=False),
        "withdrawn": Q(withdrawn_at__isnull=False),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("featured", "Featured"),
            ("pinned", "Pinned"),
            ("hidden", "Hidden"),
            ("plain", "Not curated"),
            ("withdrawn", "Withdrawn"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        query = self.QUERIES.get(self.value() or "")
        return queryset.filter(query) if query is not None else queryset


class CategoryFilter(admin.SimpleListFilter):
    """Papers having a category anywhere in their `categories` list.

    A JSON containment lookup is not portable (SQLite has none), so this matches the quoted
    category in the JSON text, which reads the same on SQLite and PostgreSQL: `"cs.CL"` cannot
    match inside `"cs.CLX"` because of the closing quote.
    """

    title = "category"
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # Primary categories are a cheap DISTINCT; the configured ones are always offered.
        primaries = Paper.objects.exclude(primary_category="").values_list(
            "primary_category", flat=True
        )
        found = set(settings.ARXIV_CATEGORIES) | set(primaries.distinct())
        return [(c, c) for c in sorted(found)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(categories__icontains=f'"{value}"')


class SourceFilter(admin.SimpleListFilter):
    """`Paper.sources` is a sorted, comma-joined list ("arxiv,hf"): match one whole item."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in Paper.Source.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(
            Q(sources=value)
            | Q(sources__startswith=f"{value},")
            | Q(sources__endswith=f",{value}")
            | Q(sources__contains=f",{value},")
        )
