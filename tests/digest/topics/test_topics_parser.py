"""The topic query language: what parses, how it prints back, and what users are told."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from digest.topics import Query, QueryError, parse, validate
from digest.topics.query import AllOf, AnyOf, Term


@pytest.mark.parametrize(
    ("query", "normalised"),
    [
        ("diffusion", "diffusion"),
        ("  diffusion \t video  ", "diffusion video"),
        ("diffusion video OR audio", "diffusion (video OR audio)"),
        ("video OR audio", "video OR audio"),
        ("x OR y OR z", "x OR y OR z"),
        ("(x OR y) OR z", "x OR y OR z"),
        ("(a b) OR c", "(a b) OR c"),
        ("(x -y) OR z", "(x -y) OR z"),
        ('"diffusion   models"', '"diffusion models"'),
        ('"transformer"', "transformer"),
        ("\u201cdiffusion models\u201d", '"diffusion models"'),
        ("self-supervised", "self-supervised"),
        ("-survey diffusion", "diffusion -survey"),
        ('llm -"survey paper"', 'llm -"survey paper"'),
        ("x -(a OR b)", "x -(a OR b)"),
        ("x -(a b)", "x -(a b)"),
        ("a (b -c) d", "a b d -c"),
        ("((diffusion))", "diffusion"),
        ('author:"Yann LeCun"', 'author:"Yann LeCun"'),
        ("Author:LeCun", "author:LeCun"),
        ('author:"LeCun"', "author:LeCun"),
        ("cat:cs.CL", "cat:cs.CL"),
        ('cat:"cs.CV"', "cat:cs.CV"),
        ("cat:cs", "cat:cs"),
        ("cat:cond-mat.stat-mech", "cat:cond-mat.stat-mech"),
        ("-cat:cs.CV robotics", "robotics -cat:cs.CV"),
        ("diffusion AND video", "diffusion video"),
        ("neural or symbolic", "neural or symbolic"),  # only upper-case OR is an operator
        ("vision & language", "vision language"),  # punctuation carries no words
        ('"OR" gate', '"OR" gate'),
        ("ratio 3:1", 'ratio "3:1"'),
        ("Schölkopf kernels", "Schölkopf kernels"),
        (r"$\mathcal{O}(n^2)$", r"$\mathcal{O} n^2"),  # LaTeX is just more words
    ],
)
def test_valid_queries_print_normalised(query: str, normalised: str) -> None:
    parsed = parse(query)
    assert str(parsed) == normalised
    assert parse(normalised) == parsed
    assert validate(query) is None


@pytest.mark.parametrize("query", ["a", "The", '"of the"', "we OR our", "-x the"])
def test_a_topic_of_function_words_alone_is_refused(query: str) -> None:
    assert "add a subject word" in (validate(query) or "")


@pytest.mark.parametrize("query", ["a OR diffusion", "vision OR the OR audio"])
def test_an_alternative_of_function_words_is_named_as_the_cause(query: str) -> None:
    message = validate(query) or ""
    assert "an alternative (OR) made only of words" in message and "leave it out" in message


@pytest.mark.parametrize("query", ["the transformer", '"state of the art"', "a -survey diffusion"])
def test_function_words_beside_a_subject_word_are_fine(query: str) -> None:
    assert validate(query) is None


def test_or_binds_tighter_than_the_implicit_and() -> None:
    # Google's reading: diffusion AND (video OR audio), not (diffusion AND video) OR audio.
    assert parse("diffusion video OR audio") == Query(
        AllOf((Term("diffusion"), AnyOf((Term("video"), Term("audio")))))
    )


def test_fields_and_exclusions_parse_to_terms() -> None:
    query = parse('author:"Yann LeCun" cat:cs.CV -"survey paper"')
    assert query.root == AllOf(
        (Term("Yann LeCun", "author"), Term("cs.CV", "cat")), (Term("survey paper"),)
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Transformers diffusion", "diffusion transformer"),
        ("video OR audio", "audio OR video"),
        ("self-supervised", '"self supervised"'),
        ("cat:CS.cl", "cat:cs.CL"),
        ("learning -survey", "-surveys learned"),
    ],
)
def test_equivalent_queries_share_a_cache_key(first: str, second: str) -> None:
    assert parse(first).key == parse(second).key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("a -b", "b -a"),
        ("a b OR c", "a OR b c"),
        ("author:Williams", "author:William"),  # names are not stemmed
        ("author:lecun", "lecun"),
        ("cat:cs", "cat:cs.CL"),
    ],
)
def test_different_queries_have_different_cache_keys(first: str, second: str) -> None:
    assert parse(first).key != parse(second).key


LONG = "diffusion " * 20 + "x"
THIRTEEN = "one two three four five six seven eight nine ten eleven twelve thirteen"
OR_EXAMPLE = "put a term on each side of OR, e.g. video OR audio"
EMPTY = "The topic is empty: type a few words, e.g. diffusion video"
LONE_MINUS = "A lone '-' excludes nothing: put it right before a word, e.g. -survey"
ONLY_EXCLUSIONS = "A topic can't be only exclusions: add a word to look for, e.g. diffusion -survey"
EXCLUSION_IN_OR = (
    "An exclusion can't be part of OR: exclude separately, e.g. (video OR audio) -survey"
)
TOO_LONG = "Topic is too long (201 characters): keep it under 200, or split it into several topics."
TOO_MANY = "Too many terms (13): a topic can have at most 12. Split it into several topics."
NOT_A_CATEGORY = (
    "'cs..CL' is not an arXiv category: write e.g. cat:cs.CL, or cat:cs for all of computer science"
)
EMPTY_QUOTES = 'Empty quotes: put words between them, e.g. "diffusion models"'


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("", EMPTY, None),
        ("   ", EMPTY, None),
        ("&& !!", EMPTY, None),
        ('"diffusion models', 'Unclosed quote: add a closing " after "diffusion models', 0),
        ('video "diffusion models', 'Unclosed quote: add a closing " after "diffusion models', 6),
        ("-", LONE_MINUS, 0),
        ("diffusion - survey", LONE_MINUS, 10),
        ("diffusion -", LONE_MINUS, 10),
        ("--survey diffusion", "Use a single '-' to exclude a word, e.g. -survey", 0),
        ("diffusion -&", "Nothing to exclude in '-&': write -word, e.g. -survey", 10),
        ("foo:bar", "Unknown field 'foo:'. Use author:, cat: or like:", 0),
        ("diffusion title:video", "Unknown field 'title:'. Use author:, cat: or like:", 10),
        ("-survey", ONLY_EXCLUSIONS, None),
        ("-survey -review", ONLY_EXCLUSIONS, None),
        ("OR video", f"The topic starts with OR: {OR_EXAMPLE}", 0),
        ("video OR", f"The topic ends with OR: {OR_EXAMPLE}", 6),
        ("video OR OR audio", f"OR needs a term after it: {OR_EXAMPLE}", 6),
        ("diffusion (OR video)", f"OR needs a term before it: {OR_EXAMPLE}", 11),
        ("video OR -audio", EXCLUSION_IN_OR, 6),
        (LONG, TOO_LONG, None),
        (THIRTEEN, TOO_MANY, None),
        ('""', EMPTY_QUOTES, 0),
        ('video "  "', EMPTY_QUOTES, 6),
        ("author:", 'author: needs a value right after the colon, e.g. author:"Yann LeCun"', 0),
        ('author:"!!"', 'author: needs a name, e.g. author:"Yann LeCun"', 0),
        ("cat:", "cat: needs a value right after the colon, e.g. cat:cs.CL", 0),
        ("cat:cs..CL", NOT_A_CATEGORY, 0),
        ("NOT survey", "Use -word instead of NOT to exclude a word, e.g. -survey", 0),
        ("()", "Empty parentheses: put words inside or remove them", 0),
        (
            "(-survey) diffusion",
            "Parentheses can't hold only exclusions: add a word to look for",
            0,
        ),
        ("(diffusion video", "Unclosed parenthesis: add a closing ')'", 0),
        ("diffusion)", "Unmatched ')': remove it or add a '(' before it", 9),
    ],
)
def test_bad_queries_say_what_is_wrong(query: str, message: str, position: int | None) -> None:
    with pytest.raises(QueryError) as raised:
        parse(query)
    assert raised.value.message == message
    assert raised.value.position == position
    assert str(raised.value) == message
    assert validate(query) == message


def test_query_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Unknown field"):
        parse("foo:bar")


def test_exactly_at_the_limits_is_fine() -> None:
    assert validate("x" * 200) is None
    assert validate(" ".join(THIRTEEN.split()[:12])) is None


# Pieces that exercise every branch of the lexer, so random queries are often valid.
_PIECES = st.sampled_from(
    [
        "diffusion", "Video", "self-supervised", "LLMs", "or", "OR", "AND", "NOT", " ", " ",
        "  ", "-", '"', "(", ")", ":", "author:", "cat:", "cs.CL", "cs", "foo:", "Schölkopf",
        "\u201c", "\u201d", "&", "3:1", r"$\mathcal{O}$", "_", "\t", "é", "'s",
    ]
)  # fmt: skip
_QUERIES = st.one_of(st.text(max_size=250), st.lists(_PIECES, max_size=30).map("".join))


@settings(max_examples=500)
@given(_QUERIES)
@example('a OR -"OR"')
@example('-(a -(b OR "c d")) author:"-x"')
def test_any_text_parses_or_raises_query_error(query: str) -> None:
    try:
        parsed = parse(query)
    except QueryError as error:
        assert error.message.strip()
        assert error.position is None or 0 <= error.position < max(len(query), 1)
    else:
        assert isinstance(parsed, Query)


@settings(max_examples=500)
@given(_QUERIES)
@example('(a -b) OR c -(d OR e) "-f" author:OR cat:cs')
def test_printed_queries_parse_back_to_the_same_query(query: str) -> None:
    try:
        parsed = parse(query)
    except QueryError:
        return
    again = parse(str(parsed))
    assert again == parsed
    assert str(again) == str(parsed)
    assert again.key == parsed.key
