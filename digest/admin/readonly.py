"""A base for logs the panel shows but never edits: the pipeline writes them, people read them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


def flatten(fields: tuple[str | tuple[str, ...], ...]) -> tuple[str, ...]:
    """`fields` rows (a name, or names side by side) as the flat list readonly_fields wants."""
    return tuple(f for row in fields for f in ((row,) if isinstance(row, str) else row))


class NoWrites:
    """Admin permissions that show records and never add, change or delete them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(NoWrites, admin.ModelAdmin):
    pass


class ReadOnlyInline(NoWrites, admin.TabularInline):
    extra = 0
    can_delete = False
