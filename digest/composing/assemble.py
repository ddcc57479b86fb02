"""Assemble a subscriber's digest email from parts rendered once per day.

Premailer is slow (milliseconds per document), so it never runs per recipient: the page shell is
rendered and inlined once per day with markers where personal values go, and each paper card is
rendered and inlined once per (paper, section, matched words). A recipient's email is then
string assembly plus a small Jinja2 render for the subject and the text part.
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from markupsafe import Markup

from digest.composing.render import (
    RenderedEmail,
    environment,
    fold_header,
    inline_css,
    inline_fragment,
)
from digest.composing.selection import DigestContent, Pick, Section, Update
from digest.models import Paper
from digest.topics import highlight

SNIPPET_CHARS = 320
# Personal values go where these markers are; they are plain letters so that neither escaping
# nor premailer changes them.
_MARKERS = (
    "subject",
    "preheader",
    "intro",
    "sections",
    "view_url",
    "manage_url",
    "unsubscribe_url",
    "recipient",
)
# Lines over 998 characters are illegal in SMTP (RFC 5322 2.1.1) and force quoted-printable.
_BREAK_AFTER = re.compile(r"(</(?:tr|td|table|div|p|a)>)")

SECTION_TITLES = {
    Section.UPDATES: "Updates on papers you follow",
    Section.TRENDING: "Trending today",
    Section.TOPICS: "For your topics",
}


def _marker(name: str) -> str:
    return f"XPDMARK{name.upper().replace('_', '')}X"


_MARKER = re.compile("|".join(_marker(name) for name in _MARKERS))


@dataclass(frozen=True, slots=True)
class Links:
    view_url: str
    manage_url: str
    unsubscribe_url: str
    # The reader's follow link up to the paper's id ("https://…/follow/<token>/"); each card
    # appends its paper's id. Empty: cards link to the home page instead.
    follow_base: str = ""


# Where a card's Follow link puts the reader's part (the card is rendered once per paper a day).
FOLLOW_MARK = _marker("follow")


def follow_href(paper: Paper, follow_base: str) -> str:
    return f"{follow_base}{paper.pk}/" if follow_base else _home()


def _home() -> str:
    return settings.SITE_URL + "/"


def author_line(paper: Paper) -> str:
    names = [a for a in paper.authors if a]
    count = paper.author_count or len(names)
    if not names:
        return f"{count} author{'s' if count != 1 else ''}" if count else ""
    if len(names) <= 3:
        return ", ".join(names)
    return f"{names[0]}, {names[1]} and {count - 2} others"


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


class DayRenderer:
    """Renders a day's digests. Create one per day (per batch), reuse it for every recipient."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.day_label = f"{day:%A, %B} {day.day}, {day.year}"
        env = environment()
        self._card = env.get_template("_card.html")
        self._section = env.get_template("_section.html")
        self._subject = env.get_template("digest.subject.txt")
        self._text = env.get_template("digest.txt")
        shell = env.get_template("digest.html").render(
            # Markers are fixed ASCII letters, safe as markup.
            {name: Markup(_marker(name)) for name in _MARKERS}  # noqa: S704
            | {"day_label": self.day_label}
        )
        self._shell = _BREAK_AFTER.sub(r"\1\n", inline_css(shell))
        # Pieces that differ by reader (the reason line, highlighted words) are inlined once as
        # templates with a marker for their text, then filled by string replacement.
        text = Markup(_marker("text"))  # noqa: S704 (fixed ASCII)
        self._why = inline_fragment(env.get_template("_why.html").render(text=text)).strip()
        self._highlight = inline_fragment(
            env.get_template("_highlight.html").render(text=text)
        ).strip()
        self._card_text = env.get_template("_card.txt")
        # Per paper (HTML) or per paper and matched words (text): the parts around the
        # reader's reason line, so a reader's card is a few string joins.
        self._card_parts: dict[int, tuple[str, str, str] | None] = {}
        self._snippets: dict[tuple[int, frozenset[str]], list[tuple[str, bool]]] = {}
        self._snippets_html: dict[tuple[int, frozenset[str]], str] = {}
        self._text_parts: dict[tuple[int, frozenset[str]], tuple[str, str]] = {}
        self._sections: dict[Section, str] = {}
        self._update = env.get_template("_update.html")
        self._update_text = env.get_template("_update.txt")
        # Per event: the same line for every follower, inlined once a day.
        self._updates: dict[int, tuple[str, str]] = {}

    def snippet(self, pick: Pick) -> list[tuple[str, bool]]:
        key = (pick.paper.pk, pick.reason.words)
        if key not in self._snippets:
            self._snippets[key] = snippet(pick.paper.abstract, pick.reason.words)
        return self._snippets[key]

    def text_card(self, pick: Pick, follow_base: str = "") -> str:
        """A paper's block in the text part: rendered once per paper and matched words, with
        the reader's reason line put in place."""
        key = (pick.paper.pk, pick.reason.words)
        if key not in self._text_parts:
            text = "".join(part for part, _ in self.snippet(pick))
            rendered = self._card_text.render(
                paper=pick.paper,
                follow_url=f"{FOLLOW_MARK}{pick.paper.pk}/",
                meta=" | ".join(meta_line(pick.paper)).replace("\u25b2 ", ""),
                why=_marker("why"),
                snippet=textwrap.fill(
                    text, width=76, initial_indent="   ", subsequent_indent="   "
                ),
            )
            if rendered.count(_marker("why")) != 1 or rendered.count(FOLLOW_MARK) != 1:
                # Paper text that contains the marker itself (only ever on purpose): no shortcut.
                return self._card_text.render(
                    paper=pick.paper,
                    follow_url=follow_href(pick.paper, follow_base),
                    meta=" | ".join(meta_line(pick.paper)).replace("\u25b2 ", ""),
                    why=self._why_text(pick).rstrip("\n"),
                    snippet=textwrap.fill(
                        text, width=76, initial_indent="   ", subsequent_indent="   "
                    ),
                )
            before, _, after = rendered.partition(_marker("why") + "\n")
            self._text_parts[key] = (before, after)
        before, after = self._text_parts[key]
        if follow_base:
            after = after.replace(FOLLOW_MARK, follow_base)
        else:
            after = after.replace(f"{FOLLOW_MARK}{pick.paper.pk}/", _home())
        return before + self._why_text(pick) + after

    @staticmethod
    def _why_text(pick: Pick) -> str:
        topics = pick.reason.topics
        if not topics:
            return ""
        # One spelling per matched word, whatever its case in the title and the abstract.
        words = sorted(
            {w.lower(): w for w in sorted(pick.reason.words, reverse=True)}.values(),
            key=str.lower,
        )
        return (
            f"   Why: your topic{'s' if len(topics) > 1 else ''} {', '.join(topics)} "
            f"(matched: {', '.join(words)})\n"
        )

    def _card_shell(self, pick: Pick) -> tuple[str, str, str] | None:
        """The paper's card around the reason line and the snippet: premailer runs once per
        paper a day (the card is the same in either section), not once per reader."""
        key = pick.paper.pk
        if key not in self._card_parts:
            fragment = self._card.render(
                paper=pick.paper,
                follow_url=Markup(f"{FOLLOW_MARK}{pick.paper.pk}/"),  # noqa: S704 (ASCII, digits)
                meta=meta_line(pick.paper),
                why=Markup(_marker("why")),  # noqa: S704 (fixed ASCII)
                snippet=Markup(_marker("snippet")),  # noqa: S704 (fixed ASCII)
            )
            shell = _BREAK_AFTER.sub(r"\1\n", inline_fragment(fragment))
            markers = (_marker("why"), _marker("snippet"), FOLLOW_MARK)
            if any(shell.count(marker) != 1 for marker in markers):
                # The paper's own text contains a marker: no shortcut for it.
                self._card_parts[key] = None
            else:
                head, _, rest = shell.partition(_marker("why"))
                middle, _, tail = rest.partition(_marker("snippet"))
                self._card_parts[key] = (head, middle, tail)
        return self._card_parts[key]

    def _snippet_html(self, pick: Pick) -> str:
        key = (pick.paper.pk, pick.reason.words)
        if key not in self._snippets_html:
            self._snippets_html[key] = "".join(
                self._highlight.replace(_marker("text"), html.escape(part))
                if hit
                else html.escape(part)
                for part, hit in self.snippet(pick)
            )
        return self._snippets_html[key]

    def card(self, pick: Pick, follow_base: str = "") -> str:
        topics = pick.reason.topics
        why = ""
        if topics:
            label = f"Matches your topic{'s' if len(topics) > 1 else ''}: {', '.join(topics)}"
            why = self._why.replace(_marker("text"), html.escape(label))
        parts = self._card_shell(pick)
        if parts is None:
            fragment = self._card.render(
                paper=pick.paper,
                follow_url=follow_href(pick.paper, follow_base),
                meta=meta_line(pick.paper),
                why=Markup(why),  # noqa: S704 (built from escaped text above)
                snippet=Markup(self._snippet_html(pick)),  # noqa: S704 (escaped parts)
            )
            return _BREAK_AFTER.sub(r"\1\n", inline_fragment(fragment))
        head, middle, tail = parts
        # The Follow link's reader part (escaped: it goes in an attribute).
        if follow_base:
            tail = tail.replace(FOLLOW_MARK, html.escape(follow_base))
        else:
            tail = tail.replace(f"{FOLLOW_MARK}{pick.paper.pk}/", html.escape(_home()))
        return head + why + middle + self._snippet_html(pick) + tail

    def update(self, update: Update) -> tuple[str, str]:
        """An event's line, HTML and text, rendered and inlined once per event a day."""
        found = self._updates.get(update.event_id)
        if found is None:
            day = f"{update.seen_on:%b} {update.seen_on.day}"
            html_line = inline_fragment(self._update.render(update=update, date=day))
            text_line = self._update_text.render(update=update, date=day).rstrip("\n") + "\n"
            found = self._updates[update.event_id] = (html_line.strip() + "\n", text_line)
        return found

    def section(self, section: Section) -> str:
        found = self._sections.get(section)
        if found is None:
            found = self._sections[section] = inline_fragment(
                self._section.render(title=SECTION_TITLES[section])
            )
        return found

    def render(self, content: DigestContent, links: Links) -> RenderedEmail:
        subject = self.subject(content)
        groups = [
            (s, picks)
            for s, picks in ((Section.TRENDING, content.trending), (Section.TOPICS, content.topics))
            if picks
        ]
        sections = "".join(
            self.section(section) + "".join(self.card(p, links.follow_base) for p in picks)
            for section, picks in groups
        )
        if content.updates:  # first: news the reader asked for, before the day's papers
            sections = (
                self.section(Section.UPDATES)
                + "".join(self.update(u)[0] for u in content.updates)
                + sections
            )
        intro = _intro(content)
        values = {
            "subject": html.escape(subject),
            "preheader": html.escape(_preheader(content)),
            "intro": html.escape(intro),
            "sections": sections,
            "view_url": html.escape(links.view_url),
            "manage_url": html.escape(links.manage_url),
            "unsubscribe_url": html.escape(links.unsubscribe_url),
            "recipient": html.escape(content.subscriber.email),
        }
        # One pass over the shell, so marker-like text inside a paper is never replaced.
        by_marker = {_marker(name): value for name, value in values.items()}
        body = _MARKER.sub(lambda m: by_marker[m.group(0)], self._shell)
        text = self._text.render(
            day_label=self.day_label,
            intro=intro,
            updates_title=SECTION_TITLES[Section.UPDATES],
            updates=[self.update(u)[1] for u in content.updates],
            sections=[
                {
                    "title": SECTION_TITLES[s],
                    "cards": [self.text_card(p, links.follow_base) for p in picks],
                }
                for s, picks in groups
            ],
            view_url=links.view_url,
            manage_url=links.manage_url,
            unsubscribe_url=links.unsubscribe_url,
        )
        return RenderedEmail(subject=subject, text=text, html=body)

    def subject(self, content: DigestContent) -> str:
        topics = list(dict.fromkeys(t for p in content.topics for t in p.reason.topics))
        if len(topics) <= 2:
            label = " and ".join(topics)
        else:
            label = f"{topics[0]}, {topics[1]} and {len(topics) - 2} more"
        return fold_header(
            self._subject.render(
                topic_count=len(content.topics),
                topic_label=label,
                trending_count=len(content.trending),
                first_title=content.trending[0].paper.title if content.trending else "",
                update_count=len(content.updates),
            )
        )


def _intro(content: DigestContent) -> str:
    parts = []
    if content.updates:
        n = len(content.updates)
        parts.append(f"{n} update{'s' if n != 1 else ''} on papers you follow")
    if content.trending:
        parts.append(f"{len(content.trending)} trending")
    if content.topics:
        parts.append(f"{len(content.topics)} matching your topics")
    return "Today: " + " and ".join(parts) + "." if parts else ""


def _preheader(content: DigestContent) -> str:
    first = (
        content.topics[0] if content.topics else (content.trending[0] if content.trending else None)
    )
    if first is None and content.updates:
        update = content.updates[0]
        return fold_header(f"{update.label}: {update.paper.title}", limit=110)
    return fold_header(first.paper.title, limit=110) if first else ""
