"""Assemble a subscriber's digest email from parts rendered once per day.

Premailer is slow (milliseconds per document), so it never runs per recipient: the page shell is
rendered and inlined once per day with markers where personal values go, and each paper card is
rendered and inlined once per paper, with markers for the reader's reason, snippet and card
links. The card links ("More like this", "Less like this", "Follow": CARD_ACTIONS) are rendered
once per day and filled with the paper's id once per paper; per reader only their base URLs, which
carry the tokens signed for their digest (build.card_bases), are joined in. A recipient's email
is then string assembly plus a small Jinja2 render for the subject and the text part.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Mapping, Sequence
from datetime import date
from urllib.parse import quote

from markupsafe import Markup

from digest.composing.cards import (
    CARD_ACTIONS,
    HTML_BUDGET,
    MORE_TITLE,
    WEEKLY_MORE_TITLE,
    Links,
    compact_from,
    escape_bases,
    intro_line,
    meta_line,
    one_line,
    preheader_line,
    section_title,
    snippet,
)
from digest.composing.content import DigestContent, Pick, Section, Update
from digest.emails.links import absolute_url
from digest.emails.render import (
    RenderedEmail,
    environment,
    fold_header,
    inline_css,
    inline_fragment,
)
from digest.models import Paper

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
    "feed_url",
    "recipient",
)
# Lines over 998 characters are illegal in SMTP (RFC 5322 2.1.1) and force quoted-printable.
_BREAK_AFTER = re.compile(r"(</(?:tr|td|table|div|p|a)>)")


def _marker(name: str) -> str:
    return f"XPDMARK{name.upper().replace('_', '')}X"


_MARKER = re.compile("|".join(_marker(name) for name in _MARKERS))
# Where a card's per-reader parts go, in this order in _card.html.
_CARD_MARKERS = ("why", "snippet", "actions")
_CARD_MARKER = re.compile("|".join(_marker(name) for name in _CARD_MARKERS))


_ACTION_KINDS = tuple(dict.fromkeys(action.kind for action in CARD_ACTIONS))
_BASE_MARKER = re.compile("(" + "|".join(_marker("base_" + k) for k in _ACTION_KINDS) + ")")
_KIND_OF_MARKER = {_marker("base_" + kind): kind for kind in _ACTION_KINDS}


def _bibtex_url(paper: Paper) -> str:
    """The paper's BibTeX on its archive page, linked from a full card's links row (about 140
    bytes a card: a 50-paper digest keeps one card fewer in full, README "render")."""
    return absolute_url("digest:paper_bibtex", paper.listed_on.isoformat(), paper.arxiv_id)


class DayRenderer:
    """Renders a day's digests. Create one per day (per batch), reuse it for every recipient."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.day_label = f"{day:%A, %B} {day.day}, {day.year}"
        env = environment()
        self._card = env.get_template("_card.html")
        self._section = env.get_template("_section.html")
        self._brief_note = env.get_template("_brief_note.html")
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
        # Each highlight's tag starts a line (a line break inside a tag is no text): with its
        # inlined style a highlight adds 150 bytes, and a snippet with a few of them made a line
        # longer than SMTP's 998, which sends the whole part quoted-printable (larger, slower).
        self._highlight = (
            inline_fragment(env.get_template("_highlight.html").render(text=text))
            .strip()
            .replace("<span ", "<span\n", 1)
        )
        self._card_text = env.get_template("_card.txt")
        # A card's per-reader links: rendered (and inlined) once per day with markers for the
        # reader's bases and the paper's id; per paper the id is put in, per reader the bases.
        action_markers = {
            "actions": CARD_ACTIONS,
            "bases": {kind: Markup(_marker("base_" + kind)) for kind in _ACTION_KINDS},  # noqa: S704
            "arxiv_id": Markup(_marker("arxiv_id")),  # noqa: S704 (fixed ASCII)
        }
        self._actions_html = inline_fragment(
            env.get_template("_card_actions.html").render(action_markers)
        ).strip()
        self._actions_text = env.get_template("_card_actions.txt").render(action_markers)
        self._actions_parts: dict[tuple[int, bool], tuple[str, ...]] = {}
        # Per paper (HTML) or per paper and matched words (text): the parts around the
        # reader's reason line, so a reader's card is a few string joins.
        self._card_parts: dict[tuple[int, bool], tuple[str, str, str, str] | None] = {}
        self._snippets: dict[tuple[int, frozenset[str]], list[tuple[str, bool]]] = {}
        self._snippets_html: dict[tuple[int, frozenset[str]], str] = {}
        self._text_parts: dict[tuple[int, frozenset[str]], tuple[str, str]] = {}
        self._sections: dict[tuple[Section, bool], str] = {}
        self._update = env.get_template("_update.html")
        self._update_text = env.get_template("_update.txt")
        # Per event: the same line for every follower, inlined once a day.
        self._updates: dict[int, tuple[str, str]] = {}

    def snippet(self, pick: Pick) -> list[tuple[str, bool]]:
        key = (pick.paper.pk, pick.reason.words)
        if key not in self._snippets:
            self._snippets[key] = snippet(pick.paper.abstract, pick.reason.words)
        return self._snippets[key]

    def text_card(self, pick: Pick, bases: Mapping[str, str] | None = None) -> str:
        """A paper's block in the text part: rendered once per paper and matched words, with
        the reader's reason line and card links (`bases`, as in Links.card_bases) put in place."""
        key = (pick.paper.pk, pick.reason.words)
        actions = self.actions(pick.paper, bases, text=True) if bases else ""
        if key not in self._text_parts:
            context = self._text_card_context(pick)
            rendered = self._card_text.render(context, why=_marker("why"))
            if rendered.count(_marker("why")) != 1:
                # Paper text that contains the marker itself (only ever on purpose): no shortcut.
                why = self._why_text(pick).rstrip("\n")
                return self._card_text.render(context, why=why) + actions
            before, _, after = rendered.partition(_marker("why") + "\n")
            self._text_parts[key] = (before, after)
        before, after = self._text_parts[key]
        return before + self._why_text(pick) + after + actions

    def _text_card_context(self, pick: Pick) -> dict[str, object]:
        paper = pick.paper
        text = "".join(part for part, _ in self.snippet(pick))
        tldr = ""
        if paper.ai_summary:
            tldr = textwrap.fill(
                "TL;DR (Hugging Face's AI summary): " + one_line(paper.ai_summary),
                width=76,
                initial_indent="   ",
                subsequent_indent="   ",
            )
        return {
            "paper": paper,
            "meta": " | ".join(meta_line(paper)).replace("\u25b2 ", ""),
            "tldr": tldr,
            "snippet": textwrap.fill(text, width=76, initial_indent="   ", subsequent_indent="   "),
        }

    def actions(self, paper: Paper, bases: Mapping[str, str], *, text: bool = False) -> str:
        """The card's per-reader links for one reader: the day's rendered links with the paper's
        id put in once per paper and the reader's bases (HTML-escaped for the HTML part) joined
        in. Nothing is signed here: the bases carry the reader's token."""
        key = (paper.pk, text)
        parts = self._actions_parts.get(key)
        if parts is None:
            arxiv_id = quote(paper.arxiv_id, safe="/")
            source = self._actions_text if text else self._actions_html
            filled = source.replace(
                _marker("arxiv_id"), arxiv_id if text else html.escape(arxiv_id)
            )
            parts = self._actions_parts[key] = tuple(_BASE_MARKER.split(filled))
        if len(_ACTION_KINDS) == 1:
            # One kind of link: the reader's base joins the pieces in one call.
            return bases[_ACTION_KINDS[0]].join(parts[::2])
        out = [parts[0]]
        for index in range(1, len(parts), 2):
            out.append(bases[_KIND_OF_MARKER[parts[index]]])
            out.append(parts[index + 1])
        return "".join(out)

    @staticmethod
    def _why_text(pick: Pick) -> str:
        topics = pick.reason.named_topics
        if pick.reason.is_similar:
            return f"   Why: similar to “{pick.reason.similar_title}” {pick.reason.liked_how}\n"
        if not topics:
            return ""
        # One spelling per matched word, whatever its case in the title and the abstract.
        words = sorted(
            {w.lower(): w for w in sorted(pick.reason.words, reverse=True)}.values(),
            key=str.lower,
        )
        matched = f" (matched: {', '.join(words)})" if words else ""  # none for like: alone
        return f"   Why: your topic{'s' if len(topics) > 1 else ''} {', '.join(topics)}{matched}\n"

    def _card_shell(self, pick: Pick, compact: bool) -> tuple[str, str, str, str] | None:
        """The paper's card around the reason line, the snippet and the reader's card links:
        premailer runs once per paper a day (the card is the same in either section), not once
        per reader. A compact card has no snippet: its second part is empty."""
        key = (pick.paper.pk, compact)
        if key not in self._card_parts:
            fragment = self._card.render(
                paper=pick.paper,
                meta=meta_line(pick.paper),
                tldr=one_line(pick.paper.ai_summary),
                compact=compact,
                bibtex_url=_bibtex_url(pick.paper),
                # Markers are fixed ASCII letters, safe as markup.
                **{name: Markup(_marker(name)) for name in _CARD_MARKERS},  # noqa: S704
            )
            shell = _BREAK_AFTER.sub(r"\1\n", inline_fragment(fragment))
            names = [n for n in _CARD_MARKERS if not (compact and n == "snippet")]
            if _CARD_MARKER.findall(shell) != [_marker(name) for name in names]:
                # The paper's own text contains a marker: no shortcut for it.
                self._card_parts[key] = None
            elif compact:
                head, before_actions, tail = _CARD_MARKER.split(shell)
                self._card_parts[key] = (head, "", before_actions, tail)
            else:
                head, middle, before_actions, tail = _CARD_MARKER.split(shell)
                self._card_parts[key] = (head, middle, before_actions, tail)
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

    def card(
        self, pick: Pick, bases: Mapping[str, str] | None = None, *, compact: bool = False
    ) -> str:
        """The paper's card for one reader; `bases` are the reader's HTML-escaped card-link
        prefixes (escape_bases(links.card_bases)); without them the card has no such links.
        `compact` leaves out the TL;DR, the snippet and the figure (a long digest's later
        cards, so that it stays under Gmail's clipping size)."""
        reason = pick.reason
        why = ""
        if reason.is_similar:
            title, how = html.escape(reason.similar_title), html.escape(reason.liked_how)
            label = f"Similar to <em>{title}</em> {how}"
            why = self._why.replace(_marker("text"), label)
        elif reason.topics:
            why = self._why.replace(_marker("text"), html.escape(reason.text))
        actions = self.actions(pick.paper, bases) if bases else ""
        parts = self._card_shell(pick, compact)
        if parts is None:
            fragment = self._card.render(
                paper=pick.paper,
                meta=meta_line(pick.paper),
                tldr=one_line(pick.paper.ai_summary),
                compact=compact,
                bibtex_url=_bibtex_url(pick.paper),
                why=Markup(why),  # noqa: S704 (built from escaped text above)
                snippet=Markup(self._snippet_html(pick)),  # noqa: S704 (escaped parts)
                actions=Markup(actions),  # noqa: S704 (inlined template, escaped bases)
            )
            return _BREAK_AFTER.sub(r"\1\n", inline_fragment(fragment))
        head, middle, before_actions, tail = parts
        snippet_html = "" if compact else self._snippet_html(pick)
        return head + why + middle + snippet_html + before_actions + actions + tail

    def update(self, update: Update) -> tuple[str, str]:
        """An event's line, HTML and text, rendered and inlined once per event a day."""
        found = self._updates.get(update.event_id)
        if found is None:
            day = f"{update.seen_on:%b} {update.seen_on.day}"
            html_line = inline_fragment(self._update.render(update=update, date=day))
            text_line = self._update_text.render(update=update, date=day).rstrip("\n") + "\n"
            found = self._updates[update.event_id] = (html_line.strip() + "\n", text_line)
        return found

    def section(self, section: Section, *, weekly: bool = False) -> str:
        found = self._sections.get((section, weekly))
        if found is None:
            found = self._sections[(section, weekly)] = inline_fragment(
                self._section.render(title=section_title(section, weekly=weekly))
            )
        return found

    def render(
        self,
        content: DigestContent,
        links: Links,
        *,
        more: Sequence[Pick] = (),
        for_inbox: bool = True,
    ) -> RenderedEmail:
        """The reader's email; `more` adds a last section of other papers of the day (the
        "view in browser" page, where a reader can vote on more than the email showed).
        `for_inbox=False` (that page) writes every card in full: no inbox clips a web page."""
        subject = self.subject(content)
        weekly = content.weekly
        in_order = (Section.TRENDING, Section.TOPICS, Section.RECOMMENDED)
        groups = [(s, content.section(s)) for s in in_order if content.section(s)]
        bases = escape_bases(links.card_bases)
        updates = ""
        if content.updates:  # first: news the reader asked for, before the day's papers
            updates = self.section(Section.UPDATES) + "".join(
                self.update(u)[0] for u in content.updates
            )
        picks_in_order = [p for _, picks in groups for p in picks]
        full = [self.card(p, bases) for p in picks_in_order]
        # Besides the cards: the shell and section titles (ASCII), and 2 KB for the values put
        # into the shell below (subject, preheader, intro, links, address).
        fixed = len(self._shell) + len(updates)
        fixed += sum(len(self.section(s, weekly=weekly)) for s, _ in groups)
        if for_inbox and fixed + sum(map(len, full)) > HTML_BUDGET // 2:  # else surely fits
            # Before the first compact card, a line says why and where the rest is in full.
            note = inline_fragment(self._brief_note.render(view_url=links.view_url))
            sizes = [len(card.encode()) for card in full]
            short = [self.card(p, bases, compact=True) for p in picks_in_order]
            compact = compact_from(
                sizes, [len(c.encode()) for c in short], fixed=fixed + len(note.encode()) + 2_000
            )
            full = [s if c else f for f, s, c in zip(full, short, compact, strict=True)]
            if True in compact:
                first = compact.index(True)
                full[first] = note + full[first]
        cards = iter(full)
        sections = updates + "".join(
            self.section(section, weekly=weekly) + "".join(next(cards) for _ in picks)
            for section, picks in groups
        )
        if more:
            more_title = WEEKLY_MORE_TITLE if weekly else MORE_TITLE
            sections += inline_fragment(self._section.render(title=more_title)) + "".join(
                self.card(p, bases) for p in more
            )
        intro = intro_line(content)
        values = {
            "subject": html.escape(subject),
            "preheader": html.escape(preheader_line(content)),
            "intro": html.escape(intro),
            "sections": sections,
            "view_url": html.escape(links.view_url),
            "manage_url": html.escape(links.manage_url),
            "unsubscribe_url": html.escape(links.unsubscribe_url),
            "feed_url": html.escape(links.feed_url or links.view_url),
            "recipient": html.escape(content.subscriber.email),
        }
        # One pass over the shell, so marker-like text inside a paper is never replaced.
        by_marker = {_marker(name): value for name, value in values.items()}
        body = _MARKER.sub(lambda m: by_marker[m.group(0)], self._shell)
        text = self._text.render(
            day_label=self.day_label,
            intro=intro,
            updates_title=section_title(Section.UPDATES),
            updates=[self.update(u)[1] for u in content.updates],
            sections=[
                {
                    "title": section_title(s, weekly=weekly),
                    "cards": [self.text_card(p, links.card_bases) for p in picks],
                }
                for s, picks in groups
            ],
            view_url=links.view_url,
            manage_url=links.manage_url,
            unsubscribe_url=links.unsubscribe_url,
            feed_url=links.feed_url,
        )
        return RenderedEmail(subject=subject, text=text, html=body)

    def subject(self, content: DigestContent) -> str:
        topics = list(dict.fromkeys(t for p in content.topics for t in p.reason.named_topics))
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
