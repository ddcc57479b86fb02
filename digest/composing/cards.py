"""What a paper card says, the same for every reader: its meta line, its abstract snippet around
the matched words, its TL;DR; and the per-reader links every card carries (CARD_ACTIONS), whose
bases a reader's `Links` hold. `assemble` renders and inlines cards once per paper a day.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from digest.composing.content import DigestContent, Section
from digest.emails.render import author_line, fold_header
from digest.models import Paper
from digest.topics import highlight

SNIPPET_CHARS = 320


@dataclass(frozen=True, slots=True)
class CardAction:
    """A per-reader link on every paper card: `<base of kind><arxiv id>/<suffix>`, where the
    base is the reader's (Links.card_bases[kind], signed once per digest)."""

    kind: str
    label: str
    suffix: str


# The links each card carries for its reader, in order. The HTML link text is a promise (issue
# 17): "More like this" / "Less like this". Another per-card link (say "Follow") is one more
# entry here and one more base in build.card_bases().
CARD_ACTIONS: tuple[CardAction, ...] = (
    CardAction("feedback", "More like this", "?v=more"),
    CardAction("feedback", "Less like this", "?v=less"),
    CardAction("follow", "Follow", ""),
)


@dataclass(frozen=True, slots=True)
class Links:
    view_url: str
    manage_url: str
    unsubscribe_url: str
    # The reader's private Atom feed (the public trending feed in a copy sent to someone else).
    feed_url: str = ""
    # Per kind of card action, the reader's URL prefix (".../feedback/<token>/"). Empty: cards
    # carry no per-reader links (a copy sent to someone else, the public archive).
    card_bases: Mapping[str, str] = field(default_factory=dict)


def meta_line(paper: Paper) -> list[str]:
    """Authors, upvotes, comments and the primary category: what a reader scans first."""
    parts = [author_line(paper)]
    if paper.upvotes:
        parts.append(f"\u25b2 {paper.upvotes} upvote{'s' if paper.upvotes != 1 else ''}")
    if paper.comments:
        parts.append(f"{paper.comments} comment{'s' if paper.comments != 1 else ''}")
    if category := paper.primary_category or (paper.categories[0] if paper.categories else ""):
        parts.append(category)
    return [part for part in parts if part]


def snippet(text: str, words: frozenset[str], limit: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """The start of the abstract, moved to show the first matched word, as highlight segments."""
    segments = highlight(text, words) if words else [(text, False)]
    start = 0
    offset = 0
    for segment, hit in segments:
        if hit:
            start = max(0, offset - limit // 3)
            if start:
                # Start on a word, not in the middle of one.
                space = text.find(" ", start, offset)
                start = space + 1 if space != -1 else offset
            break
        offset += len(segment)
    out: list[tuple[str, bool]] = []
    position = 0
    budget = limit
    for segment, hit in segments:
        end = position + len(segment)
        if end > start and budget > 0:
            piece = segment[max(0, start - position) :]
            piece = piece[:budget]
            budget -= len(piece)
            out.append((piece, hit))
        position = end
    if out and start > 0:
        out[0] = ("…" + out[0][0].lstrip(), out[0][1])
    if budget <= 0 and out:
        last, hit = out[-1]
        cut = last.rfind(" ")
        out[-1] = ((last[:cut] if cut > len(last) // 2 else last).rstrip(" ,.;:") + "…", hit)
    return out


def escape_bases(bases: Mapping[str, str]) -> dict[str, str]:
    """Card-link prefixes as they go into an href (once per reader, not per card)."""
    return {kind: html.escape(base) for kind, base in bases.items()}


SECTION_TITLES = {
    Section.UPDATES: "Updates on papers you follow",
    Section.TRENDING: "Trending today",
    Section.TOPICS: "For your topics",
    Section.RECOMMENDED: "Recommended for you",
}
MORE_TITLE = "More papers of the day"
WEEKLY_MORE_TITLE = "More papers of the week"
# A weekly reader's trending papers are the week's (selection.py).
WEEKLY_TRENDING_TITLE = "Trending this week"


def section_title(section: Section, *, weekly: bool = False) -> str:
    if weekly and section is Section.TRENDING:
        return WEEKLY_TRENDING_TITLE
    return SECTION_TITLES[section]


def one_line(text: str) -> str:
    """A TL;DR as one line of at most 300 characters (HF's are one sentence)."""
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299].rsplit(" ", 1)[0] + "\u2026"


def intro_line(content: DigestContent) -> str:
    parts = []
    if content.updates:
        n = len(content.updates)
        parts.append(f"{n} update{'s' if n != 1 else ''} on papers you follow")
    if content.trending:
        parts.append(f"{len(content.trending)} trending")
    if content.topics:
        parts.append(f"{len(content.topics)} matching your topics")
    if content.recommended:
        parts.append(f"{len(content.recommended)} recommended for you")
    if len(parts) > 2:
        parts = [", ".join(parts[:-1]), parts[-1]]
    when = "This week: " if content.weekly else "Today: "
    line = when + " and ".join(parts) + "." if parts else ""
    if content.upstream_note:  # say why the day is short rather than let it shrink unexplained
        line = f"{line} {content.upstream_note}" if line else content.upstream_note
    return line


def preheader_line(content: DigestContent) -> str:
    first = next(
        (
            section[0]
            for section in (content.topics, content.trending, content.recommended)
            if section
        ),
        None,
    )
    if first is None and content.updates:
        update = content.updates[0]
        return fold_header(f"{update.label}: {update.paper.title}", limit=110)
    return fold_header(first.paper.title, limit=110) if first else ""


# Gmail clips an HTML body past about 102 KB and hides the rest, footer and unsubscribe link
# included; a digest's HTML stays under this many bytes (DESIGN: under 100 KB).
HTML_BUDGET = 95_000


def compact_from(full: Sequence[int], compact: Sequence[int], *, fixed: int) -> list[bool]:
    """Which cards to write compact (no TL;DR, snippet or figure) so that the email fits
    HTML_BUDGET: each card keeps its full form while the cards after it still fit compact.
    `full` and `compact` are each card's sizes in bytes, `fixed` the rest of the email's."""
    remaining = sum(compact)
    used = fixed
    choice = []
    for full_size, compact_size in zip(full, compact, strict=True):
        remaining -= compact_size
        keep = used + full_size + remaining <= HTML_BUDGET
        choice.append(not keep)
        used += compact_size if not keep else full_size
    return choice
