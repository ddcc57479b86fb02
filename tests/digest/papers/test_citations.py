"""BibTeX and CSL-JSON of arXiv papers: what Zotero, JabRef and BibDesk read back, checked by
parsing the output again (bibtexparser for BibTeX, json for CSL-JSON)."""

from __future__ import annotations

import json
from datetime import date

import bibtexparser
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors
from pylatexenc.latex2text import LatexNodes2Text

from digest.papers.citations import CitationRecord, bibtex, csl_json

HOSTILE = CitationRecord(
    arxiv_id="2401.01234",
    title="On {BERT}: 100% of $x_i$ & the \\emph{Ünïcode} #1 ~ café",
    authors=(
        "Łukasz Kaiser",
        "Jürgen van der Müller",
        "山田 太郎",
        "François O'Brien-Ñúñez",
        "The ATLAS Collaboration and Friends",
    ),
    published=date(2024, 1, 5),
    primary_category="cs.CL",
    abstract="We reach 95% {accuracy}\nover two lines.",
)
OLD_STYLE = CitationRecord(arxiv_id="hep-th/9901001", title="Strings", authors=("Ed Witten",))


def parse(text: str) -> bibtexparser.Library:
    # Split the authors on " and " first (braces still there), then undo the LaTeX encoding.
    return bibtexparser.parse_string(
        text, append_middleware=[SeparateCoAuthors(), LatexDecodingMiddleware()]
    )


def test_bibtex_round_trip_keeps_titles_names_and_arxiv_identifiers():
    library = parse(bibtex([HOSTILE, OLD_STYLE]))
    assert library.failed_blocks == []
    first, second = library.entries
    fields = first.fields_dict
    assert first.entry_type == "misc"
    assert fields["title"].value == HOSTILE.title
    # LatexDecodingMiddleware leaves the split list alone: each name is decoded as a reader does.
    names = [LatexNodes2Text().latex_to_text(name) for name in fields["author"].value]
    assert names == list(HOSTILE.authors)  # the consortium stays one author
    assert fields["eprint"].value == "2401.01234"
    assert fields["archivePrefix"].value == "arXiv"
    assert fields["primaryClass"].value == "cs.CL"
    assert fields["doi"].value == "10.48550/arXiv.2401.01234"
    assert fields["url"].value == "https://arxiv.org/abs/2401.01234"
    assert fields["year"].value == "2024" and fields["month"].value == "jan"
    assert fields["abstract"].value == "We reach 95% {accuracy} over two lines."
    assert first.key == "kaiser2024_2401.01234"
    # An old-style id: its year and month from the id, a key without a slash.
    assert second.fields_dict["eprint"].value == "hep-th/9901001"
    assert second.fields_dict["year"].value == "1999"
    assert "/" not in second.key


def test_bibtex_escapes_what_latex_would_read_as_markup():
    text = bibtex([HOSTILE])
    title = next(line for line in text.splitlines() if line.strip().startswith("title"))
    # Braces, % (a comment to TeX), & and $ are escaped; accents are LaTeX macros.
    assert "{\\{}BERT{\\}}" in title and "100{\\%}" in title and "{\\&}" in title
    assert "{\\$}" in title and '{\\"U}' in title
    # Braces balance, so no field swallows the rest of the file.
    assert text.count("{") - text.count("\\{") == text.count("}") - text.count("\\}")


def test_duplicate_papers_are_one_entry():
    assert len(parse(bibtex([HOSTILE, HOSTILE])).entries) == 1
    assert bibtex([]) == ""


def test_csl_json_round_trip():
    (item,) = json.loads(json.dumps(csl_json([HOSTILE, HOSTILE]), ensure_ascii=False))
    assert item["type"] == "article"
    assert item["title"] == HOSTILE.title
    assert item["DOI"] == "10.48550/arXiv.2401.01234"
    assert item["URL"] == "https://arxiv.org/abs/2401.01234"
    assert item["number"] == "arXiv:2401.01234" and item["publisher"] == "arXiv"
    assert item["issued"] == {"date-parts": [[2024, 1, 5]]}
    assert item["author"][0] == {"given": "Łukasz", "family": "Kaiser"}
    assert item["author"][1] == {
        "given": "Jürgen",
        "non-dropping-particle": "van der",
        "family": "Müller",
    }
    assert item["author"][3] == {"given": "François", "family": "O'Brien-Ñúñez"}
    assert item["author"][4] == {"literal": "The ATLAS Collaboration and Friends"}
    assert item["abstract"] == HOSTILE.abstract
