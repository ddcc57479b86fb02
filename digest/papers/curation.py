"""Editors' curation of papers: every change of a paper's curation state happens here.

Each service locks the paper's row, changes only what differs, and records one CurationChange
(who, what, from what to what). Doing nothing records nothing, so the log reads as a list of
decisions rather than of button clicks.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from digest.models import CurationChange, Paper, PaperEvent

# The fields these services own; admin forms route changes to them through `paper_curate`.
CURATION_FIELDS = ("featured", "pinned", "pin_order", "hidden", "editor_note")

# `editor` is whatever request.user is (a staff user), or None for scripts and migrations.
Editor = Any


def _locked(paper: Paper) -> Paper:
    # Two editors clicking at once must not both "change" the same state and log it twice.
    return Paper.objects.select_for_update().get(pk=paper.pk)


def _commit(
    *, paper: Paper, locked: Paper, editor: Editor, action: str, detail: str, fields: list[str]
) -> Paper:
    locked.save(update_fields=[*fields, "updated_at"])
    CurationChange.objects.create(
        paper=locked,
        editor=editor if editor is not None and editor.is_authenticated else None,
        action=action,
        detail=detail,
    )
    # Callers keep using the instance they passed in; bring it up to date.
    for field in (*CURATION_FIELDS, "updated_at"):
        setattr(paper, field, getattr(locked, field))
    return paper


def _set_flag(*, paper: Paper, editor: Editor, field: str, value: bool, action: str) -> Paper:
    with transaction.atomic():
        locked = _locked(paper)
        if getattr(locked, field) == value:
            return paper
        setattr(locked, field, value)
        return _commit(
            paper=paper,
            locked=locked,
            editor=editor,
            action=action,
            detail=f"{field}: {'no → yes' if value else 'yes → no'}",
            fields=[field],
        )


def paper_feature(*, paper: Paper, editor: Editor) -> Paper:
    """Put the paper at the top of its day's trending list."""
    return _set_flag(paper=paper, editor=editor, field="featured", value=True, action="feature")


def paper_unfeature(*, paper: Paper, editor: Editor) -> Paper:
    return _set_flag(paper=paper, editor=editor, field="featured", value=False, action="unfeature")


def paper_hide(*, paper: Paper, editor: Editor) -> Paper:
    """Leave the paper out of every digest and page from now on."""
    return _set_flag(paper=paper, editor=editor, field="hidden", value=True, action="hide")


def paper_unhide(*, paper: Paper, editor: Editor) -> Paper:
    return _set_flag(paper=paper, editor=editor, field="hidden", value=False, action="unhide")


def next_pin_order(*, day: Any = None) -> int:
    """One past the highest order among pinned papers (of `day`, if given): "pin" appends."""
    pinned = Paper.objects.filter(pinned=True)
    if day is not None:
        pinned = pinned.filter(listed_on=day)
    highest = pinned.aggregate(highest=Max("pin_order"))["highest"]
    return 1 if highest is None else highest + 1


def paper_pin(*, paper: Paper, editor: Editor, order: int | None = None) -> Paper:
    """Pin the paper right after the featured ones; pinned papers go by ascending `order`.

    Without an order the paper goes after the papers already pinned on its day. Pinning a
    pinned paper with another order moves it.
    """
    with transaction.atomic():
        locked = _locked(paper)
        if order is None:
            if locked.pinned:
                return paper
            order = next_pin_order(day=locked.listed_on)
        if order < 0:
            raise ValueError("A pin order is zero or more.")
        if locked.pinned and locked.pin_order == order:
            return paper
        if locked.pinned:
            detail = f"pin order: {locked.pin_order} → {order}"
        else:
            detail = f"pinned: no → yes, order {order}"
        locked.pinned, locked.pin_order = True, order
        return _commit(
            paper=paper,
            locked=locked,
            editor=editor,
            action="pin",
            detail=detail,
            fields=["pinned", "pin_order"],
        )


def paper_unpin(*, paper: Paper, editor: Editor) -> Paper:
    with transaction.atomic():
        locked = _locked(paper)
        if not locked.pinned:
            return paper
        detail = f"pinned: yes → no (was order {locked.pin_order})"
        locked.pinned, locked.pin_order = False, 0
        return _commit(
            paper=paper,
            locked=locked,
            editor=editor,
            action="unpin",
            detail=detail,
            fields=["pinned", "pin_order"],
        )


def _quote(note: str, limit: int = 120) -> str:
    note = " ".join(note.split())
    return repr(note if len(note) <= limit else note[: limit - 1] + "…")


def paper_set_note(*, paper: Paper, editor: Editor, note: str) -> Paper:
    """The editor's note shown with the paper in digests; an empty note removes it."""
    note = note.strip()
    with transaction.atomic():
        locked = _locked(paper)
        if locked.editor_note == note:
            return paper
        detail = f"note: {_quote(locked.editor_note)} → {_quote(note)}"
        locked.editor_note = note
        return _commit(
            paper=paper,
            locked=locked,
            editor=editor,
            action="note",
            detail=detail,
            fields=["editor_note"],
        )


def paper_curate(
    *,
    paper: Paper,
    editor: Editor,
    featured: bool | None = None,
    pinned: bool | None = None,
    pin_order: int | None = None,
    hidden: bool | None = None,
    note: str | None = None,
) -> Paper:
    """Apply the given changes (None = leave alone) through the services above, for forms that
    edit several curation fields at once (the change page, the list's editable columns)."""
    if featured is not None:
        (paper_feature if featured else paper_unfeature)(paper=paper, editor=editor)
    if hidden is not None:
        (paper_hide if hidden else paper_unhide)(paper=paper, editor=editor)
    if pinned is False:
        paper_unpin(paper=paper, editor=editor)
    elif pinned or pin_order is not None:
        # An order typed for an unpinned paper pins it there: the form has one meaning.
        paper_pin(paper=paper, editor=editor, order=pin_order)
    if note is not None:
        paper_set_note(paper=paper, editor=editor, note=note)
    return paper


def paper_event_hide(*, event_id: int, hidden: bool, editor: Editor) -> bool:
    """Hide (or show again) one event on a paper, logged on the paper; False if unchanged. A
    hidden event is never told to the paper's followers (a wrong repository link, say)."""
    with transaction.atomic():
        event = PaperEvent.objects.select_for_update().select_related("paper").get(pk=event_id)
        if event.hidden == hidden:
            return False
        event.hidden = hidden
        event.save(update_fields=["hidden"])
        CurationChange.objects.create(
            paper=event.paper,
            editor=editor if editor is not None and editor.is_authenticated else None,
            action="hide event" if hidden else "show event",
            detail=f"{event.get_kind_display()} seen {event.seen_on}: {event.detail}"[:500],
        )
    return True
