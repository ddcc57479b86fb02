"""What a reader's digest holds: its sections, the papers in them with the reason each is there,
and the events on papers the reader follows. Plain data: `selection` and `recommended` fill it,
`assemble` renders it, a delivery row keeps its `as_json()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from digest.models import Paper, PaperEvent
from subscriptions.models import Subscriber


class Section(StrEnum):
    UPDATES = "updates"
    TRENDING = "trending"
    TOPICS = "topics"
    RECOMMENDED = "recommended"


@dataclass(frozen=True, slots=True)
class Update:
    """One event on a followed paper, as a digest line (shared by every reader told it)."""

    event_id: int
    paper: Paper
    kind: str
    detail: str
    seen_on: date
    seen_at: datetime  # compared with the follow's start

    @property
    def label(self) -> str:
        return str(PaperEvent.Kind(self.kind).label)

    @property
    def url(self) -> str:
        """Where the line leads: the repository, the new version, the paper's Hugging Face
        page, the project page."""
        if self.kind == PaperEvent.Kind.CODE and self.paper.github_repo:
            return self.paper.github_repo
        if self.kind == PaperEvent.Kind.PROJECT_PAGE and self.paper.project_page:
            return self.paper.project_page
        if self.kind == PaperEvent.Kind.VERSION:
            version = self.detail.split(":", 1)[0]
            return self.paper.abs_url + (version if version[1:].isdigit() else "")
        return self.paper.hf_url

    def as_dict(self) -> dict[str, object]:
        return {
            "arxiv_id": self.paper.arxiv_id,
            "section": Section.UPDATES.value,
            "event_id": self.event_id,
            "kind": self.kind,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a paper is in a digest: the topics it matched and the words that matched them, or
    (Recommended for you) the paper the reader liked that it is most like. `similar_topic` is
    the reader's `like:` topic that named that paper, when they did not vote on it."""

    topics: tuple[str, ...] = ()
    words: frozenset[str] = frozenset()
    similar_to: str = ""  # the arXiv id of that liked paper
    similar_title: str = ""
    similar_topic: str = ""
    # How the reader told us: "vote", "library" (their imported library) or "like" (a topic).
    similar_source: str = ""
    # The topics as the reader reads them (`digest.topics.topic_label`): a like: names its paper.
    labels: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"topics": list(self.topics), "words": sorted(self.words)}
        if self.labels and self.labels != self.topics:
            found["labels"] = list(self.labels)
        if self.is_similar:
            similar = {"arxiv_id": self.similar_to, "title": self.similar_title}
            if self.similar_source:
                similar["source"] = self.similar_source
            if self.similar_topic:
                similar["topic"] = self.similar_topic
            found["similar_to"] = similar
            found["text"] = self.text
        return found

    @property
    def text(self) -> str:
        """The reason in words, as the email says it ("" for a trending paper)."""
        if self.is_similar:
            return f"Similar to “{self.similar_title}” {self.liked_how}"
        if self.topics:
            named = self.named_topics
            return f"Matches your topic{'s' if len(named) > 1 else ''}: {', '.join(named)}"
        return ""

    @property
    def is_similar(self) -> bool:
        """A Recommended paper's reason (a library paper may have no arXiv id)."""
        return bool(self.similar_to or self.similar_source)

    @property
    def named_topics(self) -> tuple[str, ...]:
        """The matched topics as the reader reads them (the labels, where the day gave some)."""
        return self.labels or self.topics

    @property
    def liked_how(self) -> str:
        """How the reader told us they like the `similar_to` paper."""
        if self.similar_topic:
            return f"from your topic {self.similar_topic}"
        if self.similar_source == "library":
            return "from your library"
        return "that you liked"


@dataclass(frozen=True, slots=True)
class Pick:
    paper: Paper
    section: Section
    reason: Reason = Reason()


@dataclass(slots=True)
class DigestContent:
    subscriber: Subscriber
    day: date
    trending: list[Pick] = field(default_factory=list)
    topics: list[Pick] = field(default_factory=list)
    recommended: list[Pick] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    quiet_reason: str = ""
    # An upstream that served nothing new today (papers/freshness.py), said in the intro line.
    upstream_note: str = ""

    @property
    def picks(self) -> list[Pick]:
        return [*self.trending, *self.topics, *self.recommended]

    @property
    def weekly(self) -> bool:
        """A weekly reader's digest: the week's papers, worded as such."""
        return self.subscriber.cadence == Subscriber.Cadence.WEEKLY

    def section(self, section: Section) -> list[Pick]:
        return {
            Section.TRENDING: self.trending,
            Section.TOPICS: self.topics,
            Section.RECOMMENDED: self.recommended,
        }[section]

    @property
    def is_empty(self) -> bool:
        return not self.trending and not self.topics and not self.recommended and not self.updates

    def as_json(self) -> list[dict[str, object]]:
        """What was sent, kept on the delivery: the papers and the events told (an update's
        event id is what makes it told once per reader)."""
        told: list[dict[str, object]] = [update.as_dict() for update in self.updates]
        told.extend(
            {"arxiv_id": p.paper.arxiv_id, "section": p.section.value, "reason": p.reason.as_dict()}
            for p in self.picks
        )
        return told
