"""Topics as a reader reads them: a ``like:`` term names its paper, not its arXiv id.

``adversarial -survey`` stays as typed; ``like:2306.01762`` becomes
``like:“Feature-Guided Black-Box Safety…”`` (the colon keeps it a topic: "like" alone reads as
"such as") wherever a reader sees their topic (the reasons and the subject of their digest, the
live preview). The stored topic and the JSON keep the id.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

from digest.topics.parser import parse
from digest.topics.query import QueryError

TITLE_WIDTH = 40
# A like: term as typed, quoted or not; the parser says which arXiv id it names.
_LIKE = re.compile(r'\blike:("?)([^\s()"]+)\1', re.IGNORECASE)


def topic_label(query: str, title_of: Callable[[str], str | None]) -> str:
    """`query` with each ``like:<id>`` written as ``like:“<its title, shortened>”`` (the id
    stays where `title_of` knows no such paper)."""

    def named(match: re.Match[str]) -> str:
        try:
            (arxiv_id,) = parse("like:" + match.group(2)).liked_ids
        except (QueryError, ValueError):
            return match.group(0)
        title = title_of(arxiv_id)
        if not title:
            return match.group(0)
        return f"like:“{textwrap.shorten(title, TITLE_WIDTH, placeholder='…')}”"

    return _LIKE.sub(named, query)
