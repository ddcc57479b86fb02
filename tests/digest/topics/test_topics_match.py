"""Matching topics against a day's papers and scoring them (the word folding and highlighting
underneath: test_topics_text.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.topics import Match, PaperIndex, PaperText, Query, QueryError, highlight, parse

# Real titles, authors and abstract openings from Hugging Face Daily Papers.
KAT = PaperText(
    key=101,
    title="Kolmogorov-Arnold Transformer",
    abstract=(
        "Transformers stand as the cornerstone of mordern deep learning. Traditionally, these "
        "models rely on multi-layer perceptron (MLP) layers to mix the information between "
        "channels. In this paper, we introduce the Kolmogorov-Arnold Transformer (KAT), a "
        "novel architecture that replaces MLP layers with Kolmogorov-Arnold Network (KAN) layers."
    ),
    authors=("Xingyi Yang", "Xinchao Wang"),
    categories=("cs.LG", "cs.AI"),
    keywords=("Kolmogorov-Arnold Networks", "transformer", "rational functions", "group-KAN"),
)
VANILLANET = PaperText(
    key=102,
    title="VanillaNet: the Power of Minimalism in Deep Learning",
    abstract=(
        'At the heart of foundation models is the philosophy of "more is different", exemplified '
        "by the astonishing success in computer vision and natural language processing. However, "
        "the challenges of optimization and inherent complexity of transformer models call for a "
        "paradigm shift towards simplicity. By avoiding high depth, shortcuts, and intricate "
        "operations like self-attention, VanillaNet is refreshingly concise yet remarkably "
        "powerful."
    ),
    authors=("Hanting Chen", "Yunhe Wang", "Jianyuan Guo", "Dacheng Tao"),
    categories=("cs.CV",),
)
SSAST = PaperText(
    key=103,
    title="SSAST: Self-Supervised Audio Spectrogram Transformer",
    abstract=(
        "Recently, neural networks based purely on self-attention, such as the Vision "
        "Transformer (ViT), have been shown to outperform deep learning models constructed with "
        "convolutional neural networks (CNNs) on various vision tasks. A recent study showed that "
        "a similar methodology can also be applied to the audio domain."
    ),
    authors=("Yuan Gong", "Cheng-I Jeff Lai", "Yu-An Chung", "James Glass"),
    categories=("cs.SD", "eess.AS"),
)
VIT_RL = PaperText(
    key=104,
    title=(
        "Pretraining the Vision Transformer using self-supervised methods for vision based "
        "Deep Reinforcement Learning"
    ),
    abstract=(
        "The Vision Transformer architecture has shown to be competitive in the computer vision "
        "(CV) space where it has dethroned convolution-based networks in several benchmarks. "
        "Nevertheless, convolutional neural networks (CNN) remain the preferential architecture "
        "for the representation module in reinforcement learning (RL)."
    ),
    authors=("Manuel Goulão", "Arlindo L. Oliveira"),
    categories=("cs.LG", "cs.CV"),
)
LEGAL = PaperText(
    key=105,
    title="Attentive Deep Neural Networks for Legal Document Retrieval",
    abstract=(
        "Legal text retrieval serves as a key component in a wide range of legal text processing "
        "tasks such as legal question answering. We start from the state of the art and crawl "
        "each statute by URL; case studies show the value of attention."
    ),
    authors=("Ha-Thanh Nguyen", "Yann LeCun"),
    categories=("cs.CL", "cs.IR"),
)
KERNELS = PaperText(
    key=106,
    title=r"Sparse Attention in $\mathcal{O}(n \log n)$: Kernels Learned from Data",
    abstract=(
        r"Exact attention costs $\mathcal{O}(n^2)$ time; we learn kernels that bring it to "
        r"$\mathcal{O}(n \log n)$ with \emph{no} loss, and study diffusion models too."
    ),
    authors=("Bernhard Schölkopf", "Yann A. LeCun", "Jane Williams"),
    categories=("stat.ML", "math-ph"),
)
CORPUS = (KAT, VANILLANET, SSAST, VIT_RL, LEGAL, KERNELS)


@pytest.fixture(scope="module")
def index() -> PaperIndex:
    return PaperIndex.build(CORPUS)


def matches(abstract: str, query: str, title: str = "A paper") -> bool:
    """Whether ``query`` matches a single paper with this title and abstract."""
    return bool(PaperIndex.build([PaperText(1, title, abstract)]).match(query))


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("transformer", "Transformers stand as the cornerstone"),
        ("transformers", "a vision transformer"),
        ("diffusion", "latent diffusions"),
        ("learn", "noise-adaptive learning rates"),
        ("learn", "kernels learned from data"),
        ("learning", "models that learn"),
        ("learned", "a model learns"),
        ("study", "case studies show"),
        ("studies", "in this study"),
        ("studied", "studying attention"),
        ("model", "molecular modeling"),
        ("model", "diffusion modelling"),
        ("models", "modelled jointly"),
        ("embedding", "sentence embeddings"),
        ("embed", "embedded devices"),
        ("LLM", "LLMs as judges"),
        ("policy", "policies for control"),
        ("generate", "generating images"),
        ("process", "processes in parallel"),
        ("labelled", "label noise"),
        ("analysis", "two analyses"),
        ("LeCun", "LeCun's convolutional networks"),
        ("Schölkopf", "kernels by Scholkopf"),
        ("scholkopf", "kernels by Schölkopf"),
        ("naïve", "a naive baseline"),
        ("Müller", "Thomas Müller and colleagues"),
        ("ﬁne-tuning", "fine-tuning"),
        ("snake", "snake_case identifiers"),
        ("mathcal", r"$\mathcal{O}(n^2)$ time"),
    ],
)
def test_words_match_their_inflections_and_foldings(query: str, text: str) -> None:
    assert matches(text, query)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("art", "we start from scratch"),  # never inside a word
        ("RL", "crawl each statute by URL"),
        ("transformer", "we transform the input"),  # derivations are not folded
        ("learn", "a meta-learner"),
        ("string", "the str type"),
        ("news", "a new method"),
    ],
)
def test_words_do_not_match_other_words(query: str, text: str) -> None:
    assert not matches(text, query)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("self-supervised", "self supervised learning"),
        ('"self supervised"', "Self-Supervised Audio"),
        ('"self-supervised"', "a self supervised method"),
        ("self-supervised", "self\u2010supervised (Unicode hyphen)"),
        ("GPT-4", "GPT 4 answers"),
        ('"diffusion models"', "latent diffusion models"),
        ('"diffusion model"', "Diffusion Models beat GANs"),
        ('"state of the art"', "state-of-the-art results"),
    ],
)
def test_hyphens_and_spaces_are_alike_and_phrases_match(query: str, text: str) -> None:
    assert matches(text, query)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("self-supervised", "supervised learning of the self"),
        ('"diffusion models"', "diffusion-based generative models"),  # adjacent only
        ('"vision transformer"', "a transformer for vision"),
        ("self-supervised", "selfsupervised"),
    ],
)
def test_phrases_need_adjacent_words_in_order(query: str, text: str) -> None:
    assert not matches(text, query)


def test_phrases_do_not_run_across_fields_or_keywords() -> None:
    paper = PaperText(1, "Audio diffusion", "Models of sound.", keywords=("latent", "models"))
    index = PaperIndex.build([paper])
    assert index.match('"diffusion models"') == {}
    assert index.match('"latent models"') == {}
    assert set(index.match("diffusion models")) == {1}


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("transformer", {101, 102, 103, 104}),
        ("vision transformer", {102, 103, 104}),
        ('"vision transformer"', {103, 104}),
        ("spectrogram OR reinforcement", {103, 104}),
        ("transformer audio OR reinforcement", {103, 104}),
        ("transformer video OR reinforcement", {104}),
        ("transformer -vision", {101}),
        ('transformer -"vision transformer"', {101, 102}),
        ("attention -(sparse OR legal)", {102, 103}),
        ("(audio OR legal) (spectrogram OR retrieval)", {103, 105}),
        ("RL", {104}),
        ("art", {105}),
        ("diffusion", {106}),
        ("KAN", {101}),
        ("group-KAN", {101}),  # AI keywords are searched too
        ("Kolmogorov-Arnold", {101}),
        ("cs.CL", {105}),  # so are categories, as words
        ("Xinchao", {101}),  # and author names
        ("nothing-like-this", set()),
    ],
)
def test_queries_select_the_papers_they_describe(
    index: PaperIndex, query: str, keys: set[int]
) -> None:
    assert set(index.match(query)) == keys


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ('author:"Yann LeCun"', {105, 106}),  # "Yann A. LeCun" too: middle names allowed
        ("author:lecun", {105, 106}),
        ("author:LECUN", {105, 106}),
        ('author:"LeCun Yann"', set()),  # in order
        ('author:"Yann Nguyen"', set()),  # within one author's name
        ("author:scholkopf", {106}),  # accent-insensitive
        ("author:Goulao", {104}),
        ("author:Williams", {106}),
        ("author:William", set()),  # names are not stemmed
        ("author:attention", set()),  # only author names
        ("author:Wang transformer", {101, 102}),
        ("cat:cs.CL", {105}),
        ("cat:CS.cl", {105}),
        ("cat:cs.C", set()),  # exact, no partial names
        ("cat:cs", {101, 102, 103, 104, 105}),  # a whole archive
        ("cat:eess", {103}),
        ("cat:math-ph", {106}),
        ("cat:math", set()),  # math-ph is its own archive
        ("cat:stat.ML attention", {106}),
        ("transformer -cat:cs.CV", {101, 103}),
    ],
)
def test_author_and_category_fields(index: PaperIndex, query: str, keys: set[int]) -> None:
    assert set(index.match(query)) == keys


def test_title_hits_score_above_abstract_only_hits() -> None:
    index = PaperIndex.build(
        [
            PaperText(1, "Video generation", "Diffusion for video. Diffusion again, diffusion."),
            PaperText(2, "Diffusion Models for Video", "We generate video."),
            PaperText(3, "Video", "A video model.", keywords=("latent diffusion",)),
        ]
    )
    found = index.match("diffusion")
    assert found[2].score > found[3].score > found[1].score


def test_more_terms_and_phrases_score_higher() -> None:
    index = PaperIndex.build(
        [
            PaperText(1, "A paper", "An audio model."),
            PaperText(2, "A paper", "An audio and video model."),
            PaperText(3, "A paper", "Diffusion models are audio models."),
        ]
    )
    either = index.match("video OR audio")
    assert either[2].score > either[1].score
    phrase = index.match('"diffusion models" OR audio')
    assert phrase[3].score > phrase[2].score


def test_matches_report_the_words_as_the_paper_writes_them(index: PaperIndex) -> None:
    assert index.match("self-supervised")[103].words == frozenset({"Self-Supervised"})
    assert index.match("transformers")[101].words == frozenset(
        {"Transformer", "Transformers", "transformer"}
    )
    assert index.match('author:"Yann LeCun"')[106].words == frozenset({"Yann A. LeCun"})
    assert index.match("cat:cs")[104].words == frozenset({"cs.LG", "cs.CV"})
    kept = index.match("transformer -vision")[101]
    assert kept == Match(kept.score, frozenset({"Transformer", "Transformers", "transformer"}))


def test_identical_queries_are_evaluated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    index = PaperIndex.build(CORPUS)
    calls: list[str] = []
    evaluate = PaperIndex._evaluate

    def counting(self: PaperIndex, query: Query) -> dict[int, Match]:
        calls.append(str(query))
        return evaluate(self, query)

    monkeypatch.setattr(PaperIndex, "_evaluate", counting)
    first = index.match("Transformers vision")
    assert index.match("vision   transformer") == first
    assert index.match(parse("Vision Transformer")) == first
    assert len(calls) == 1
    first.clear()  # the caller's copy: the cache is unaffected
    assert set(index.match("transformer vision")) == {102, 103, 104}


def test_match_parses_strings_and_raises_query_errors(index: PaperIndex) -> None:
    with pytest.raises(QueryError, match="Unknown field 'foo:'"):
        index.match("foo:bar")


def test_index_size_and_duplicate_keys() -> None:
    assert len(PaperIndex.build(CORPUS)) == len(CORPUS)
    assert len(PaperIndex.build([])) == 0
    assert PaperIndex.build([]).match("transformer") == {}
    with pytest.raises(ValueError, match="indexed twice"):
        PaperIndex.build([KAT, KAT])


def test_empty_and_odd_papers_index_fine() -> None:
    odd = PaperText(1, "", "", authors=("",), categories=("",), keywords=("—",))
    latex = PaperText(2, r"$\frac{1}{2}$ \\ {}^_", r"$$\sum_{i=1}^{n} x_i^2$$ \cite{x}")
    index = PaperIndex.build([odd, latex])
    assert set(index.match("frac")) == {2}
    assert set(index.match("sum x")) == {2}


def test_highlight_uses_the_words_a_match_reports(index: PaperIndex) -> None:
    words = index.match("self-supervised transformer")[104].words
    segments = highlight(VIT_RL.title, words)
    assert [text for text, marked in segments if marked] == ["Transformer", "self-supervised"]


_TEXTS = st.lists(
    st.sampled_from([*"abcdeé- \"'$\\{}^_()", "RL", "URL", "models", "\u2010"]), max_size=40
).map("".join)


@settings(max_examples=300)
@given(st.lists(_TEXTS, min_size=1, max_size=4), st.text(max_size=60))
def test_any_valid_query_matches_any_papers_without_crashing(texts: list[str], query: str) -> None:
    papers = [PaperText(n, text, text[::-1], authors=(text,)) for n, text in enumerate(texts)]
    index = PaperIndex.build(papers)
    try:
        found = index.match(query)
    except QueryError:
        return
    assert set(found) <= set(range(len(texts)))
    for key, match in found.items():
        assert match.score > 0
        for word in match.words:
            assert any(
                marked for _, marked in highlight(texts[key] + " " + texts[key][::-1], {word})
            )
