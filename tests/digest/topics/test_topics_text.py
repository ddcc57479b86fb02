"""digest.topics.text: folding words to one stem, and highlighting the words a topic matched."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.topics import highlight
from digest.topics.text import stem


@pytest.mark.parametrize(
    "forms",
    [
        ("transformer", "transformers"),
        ("diffusion", "diffusions"),
        ("learn", "learns", "learned", "learning"),
        ("study", "studies", "studied", "studying"),
        ("model", "models", "modeling", "modelling", "modeled", "modelled"),
        ("embed", "embeds", "embedded", "embedding", "embeddings"),
        ("generate", "generates", "generated", "generating"),
        ("policy", "policies"),
        ("movie", "movies"),
        ("process", "processes", "processed", "processing"),
        ("class", "classes"),
        ("bias", "biases"),
        ("analysis", "analyses"),
        ("index", "indices"),
        ("label", "labels", "labelled", "labeling"),
        ("control", "controlled", "controlling"),
        ("run", "runs", "running"),
        ("fall", "falls", "falling"),
        ("install", "installing"),
        ("llm", "llms"),
    ],
)
def test_stemmer_folds_inflections_together(forms: tuple[str, ...]) -> None:
    assert len({stem(form) for form in forms}) == 1


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("transformer", "transform"),  # derivations stay apart
        ("learner", "learn"),
        ("string", "str"),
        ("thing", "th"),
        ("yann", "yan"),  # no undoubling without a suffix
        ("news", "new"),
        ("need", "ne"),
        ("spell", "spel"),
        ("gpt4", "gpt"),  # alphanumerics are left alone
    ],
)
def test_stemmer_keeps_distinct_words_apart(one: str, other: str) -> None:
    assert stem(one) != stem(other)


def test_highlight_marks_whole_words_case_insensitively() -> None:
    assert highlight("Transformers stand as the cornerstone", {"transformers"}) == [
        ("Transformers", True),
        (" stand as the cornerstone", False),
    ]
    assert highlight("we start from the state of the art", {"art"}) == [
        ("we start from the state of the ", False),
        ("art", True),
    ]
    assert highlight("crawl by URL, then RL", {"RL"}) == [
        ("crawl by URL, then ", False),
        ("RL", True),
    ]


def test_highlight_treats_hyphens_and_spaces_alike() -> None:
    assert highlight("SSAST: Self-Supervised Audio", {"self supervised"}) == [
        ("SSAST: ", False),
        ("Self-Supervised", True),
        (" Audio", False),
    ]
    assert highlight("a self supervised method", {"self-supervised"}) == [
        ("a ", False),
        ("self supervised", True),
        (" method", False),
    ]


def test_highlight_prefers_the_longest_match() -> None:
    assert highlight("latent diffusion models", {"diffusion", "diffusion models"}) == [
        ("latent ", False),
        ("diffusion models", True),
    ]


def test_highlight_returns_text_not_markup() -> None:
    assert highlight("<b>RL</b> & URL", {"RL"}) == [
        ("<b>", False),
        ("RL", True),
        ("</b> & URL", False),
    ]


def test_highlight_edge_cases() -> None:
    assert highlight("", {"art"}) == []
    assert highlight("nothing to see", []) == [("nothing to see", False)]
    assert highlight("nothing to see", {"!!"}) == [("nothing to see", False)]
    assert highlight(r"costs $\mathcal{O}(n^2)$", {"n^2", "O"}) == [
        (r"costs $\mathcal{", False),
        ("O", True),
        ("}(", False),
        ("n^2", True),
        (")$", False),
    ]
    assert highlight("Schölkopf and Müller", {"Schölkopf"}) == [
        ("Schölkopf", True),
        (" and Müller", False),
    ]


@settings(max_examples=300)
@given(st.text(max_size=200), st.lists(st.text(max_size=20), max_size=5))
def test_highlight_segments_always_join_back_into_the_text(text: str, words: list[str]) -> None:
    segments = highlight(text, words)
    assert "".join(segment for segment, _ in segments) == text
    assert all(segment for segment, _ in segments)
