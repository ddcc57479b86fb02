"""Curation services: state changes, the log of who did what, and no-ops that log nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from digest.models import CurationChange, Paper
from digest.papers.curation import (
    paper_curate,
    paper_feature,
    paper_hide,
    paper_pin,
    paper_set_note,
    paper_unfeature,
    paper_unhide,
    paper_unpin,
)
from tests.support.factories import PaperFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor():
    return get_user_model().objects.create_user("ed", "ed@example.org", "pw", is_staff=True)


def _log(paper: Paper) -> list[tuple[str, str, str | None]]:
    return [
        (c.action, c.detail, c.editor.username if c.editor else None)
        for c in CurationChange.objects.filter(paper=paper).order_by("id")
    ]


@pytest.mark.parametrize(
    ("first", "second", "field", "action_on", "action_off"),
    [
        (paper_feature, paper_unfeature, "featured", "feature", "unfeature"),
        (paper_hide, paper_unhide, "hidden", "hide", "unhide"),
    ],
)
def test_flags_toggle_and_log_once(editor, first, second, field, action_on, action_off):
    paper = PaperFactory()

    first(paper=paper, editor=editor)
    first(paper=paper, editor=editor)  # already on: nothing to record

    paper.refresh_from_db()
    assert getattr(paper, field) is True
    assert _log(paper) == [(action_on, f"{field}: no → yes", "ed")]

    second(paper=paper, editor=editor)
    second(paper=paper, editor=editor)
    paper.refresh_from_db()
    assert getattr(paper, field) is False
    assert [a for a, _, _ in _log(paper)] == [action_on, action_off]


def test_unhide_of_visible_paper_is_a_noop(editor):
    paper = PaperFactory()
    paper_unhide(paper=paper, editor=editor)
    paper_unfeature(paper=paper, editor=editor)
    paper_unpin(paper=paper, editor=editor)
    paper_set_note(paper=paper, editor=editor, note="  ")
    assert CurationChange.objects.count() == 0


def test_pin_appends_after_pinned_papers_of_the_same_day(editor):
    first, second, other_day = PaperFactory(), PaperFactory(), PaperFactory(listed_on="2020-01-01")
    paper_pin(paper=other_day, editor=editor, order=9)

    paper_pin(paper=first, editor=editor)
    paper_pin(paper=second, editor=editor)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.pinned, first.pin_order) == (True, 1)
    assert (second.pinned, second.pin_order) == (True, 2)
    assert _log(first) == [("pin", "pinned: no → yes, order 1", "ed")]


def test_pin_with_order_moves_a_pinned_paper_and_same_order_is_a_noop(editor):
    paper = PaperFactory()
    paper_pin(paper=paper, editor=editor, order=3)
    paper_pin(paper=paper, editor=editor, order=1)
    paper_pin(paper=paper, editor=editor, order=1)
    paper_pin(paper=paper, editor=editor)  # pinned already, no order: stays where it is

    paper.refresh_from_db()
    assert paper.pin_order == 1
    assert [d for _, d, _ in _log(paper)] == ["pinned: no → yes, order 3", "pin order: 3 → 1"]


def test_negative_pin_order_is_refused(editor):
    with pytest.raises(ValueError, match="zero or more"):
        paper_pin(paper=PaperFactory(), editor=editor, order=-1)


def test_unpin_resets_the_order(editor):
    paper = PaperFactory()
    paper_pin(paper=paper, editor=editor, order=2)
    paper_unpin(paper=paper, editor=editor)
    paper.refresh_from_db()
    assert (paper.pinned, paper.pin_order) == (False, 0)
    assert _log(paper)[-1] == ("unpin", "pinned: yes → no (was order 2)", "ed")


def test_note_records_old_and_new_text(editor):
    paper = PaperFactory()
    paper_set_note(paper=paper, editor=editor, note=" Worth a read. ")
    paper_set_note(paper=paper, editor=editor, note="Worth a read.")
    paper_set_note(paper=paper, editor=editor, note="")
    paper.refresh_from_db()
    assert paper.editor_note == ""
    assert [d for _, d, _ in _log(paper)] == [
        "note: '' → 'Worth a read.'",
        "note: 'Worth a read.' → ''",
    ]


def test_services_update_the_instance_passed_in(editor):
    paper = PaperFactory()
    stale = Paper.objects.get(pk=paper.pk)
    paper_feature(paper=paper, editor=editor)
    assert paper.featured is True
    # A stale copy sees the change through the row lock, not its own old value.
    paper_feature(paper=stale, editor=editor)
    assert CurationChange.objects.count() == 1


def test_without_editor_the_change_is_still_recorded():
    paper = PaperFactory()
    paper_hide(paper=paper, editor=None)
    assert _log(paper) == [("hide", "hidden: no → yes", None)]


def test_curate_applies_only_what_is_given(editor):
    paper = PaperFactory()
    paper_curate(paper=paper, editor=editor, featured=True, pin_order=4, note="Nice")
    paper.refresh_from_db()
    assert (paper.featured, paper.pinned, paper.pin_order, paper.hidden) == (True, True, 4, False)
    assert paper.editor_note == "Nice"
    assert [a for a, _, _ in _log(paper)] == ["feature", "pin", "note"]

    paper_curate(paper=paper, editor=editor, pinned=False)
    paper.refresh_from_db()
    assert paper.pinned is False
