"""Topics: the query language subscribers write, and matching it against a day's papers.

Pure Python, no ORM: callers turn papers into :class:`PaperText`, build one
:class:`PaperIndex` per digest run and ask it for each subscriber's topics. The syntax and its
choices are documented in :mod:`digest.topics.parser`, word folding in :mod:`digest.topics.text`.
"""

from digest.topics.index import Match, PaperIndex, PaperText
from digest.topics.labels import topic_label
from digest.topics.parser import parse, validate
from digest.topics.query import Query, QueryError
from digest.topics.text import highlight

__all__ = [
    "Match",
    "PaperIndex",
    "PaperText",
    "Query",
    "QueryError",
    "highlight",
    "parse",
    "topic_label",
    "validate",
]
