"""Reference-library files as researchers' tools export them (hand-written in their real
shapes: tests/subscriptions/library/data/), parsed into entries with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from subscriptions.library.importing import LibraryRefused, library_import_check
from subscriptions.library.parsing import guess_format, parse_library, title_key

DATA = Path(__file__).parent / "data"
# The parent conftest clears the cache, which is the database cache here.
pytestmark = pytest.mark.django_db


def parse(name: str, **kwargs):
    return library_import_check(data=(DATA / name).read_bytes(), file_name=name, **kwargs)


def test_zotero_bibtex_with_eprint_doi_and_latex():
    parsed = parse("zotero.bib")
    assert parsed.format == "bibtex"
    survey, attention, resnet = parsed.entries
    assert survey.title == "A Survey of Medical Image Segmentation with Foundation Models"
    assert survey.arxiv_id == "2409.10594" and survey.doi == "10.48550/arxiv.2409.10594"
    assert survey.authors == ("Wei Zhang", "Anna Müller")  # LaTeX {\"u} decoded
    assert survey.abstract.startswith("Foundation models such as SAM") and survey.year == 2024
    assert attention.arxiv_id == "1706.03762" and attention.line == 16
    # A conference paper with a DOI and no arXiv id counts by its title and DOI.
    assert (resnet.arxiv_id, resnet.doi) == ("", "10.1109/cvpr.2016.90")
    assert parsed.skipped == []


def test_mendeley_bibtex_with_arxivid_and_pdf_url():
    parsed = parse("mendeley.bib")  # its header lines are comments, not entries
    sam, unet = parsed.entries
    assert (sam.title, sam.arxiv_id) == ("Segment Anything", "2304.02643")
    assert unet.arxiv_id == "1505.04597"  # from https://arxiv.org/pdf/1505.04597v1.pdf
    assert unet.title.startswith("U-Net: Convolutional Networks") and unet.abstract == ""
    assert parsed.skipped == []


def test_google_scholar_bibtex_without_abstracts():
    clip, bert = parse("scholar.bib").entries
    assert clip.arxiv_id == "2103.00020"  # journal = {arXiv preprint arXiv:2103.00020}
    assert (bert.arxiv_id, bert.abstract) == ("", "")
    assert bert.title.startswith("Bert: Pre-training") and bert.authors[0] == "Jacob Devlin"


def test_a_broken_entry_is_skipped_with_its_line_and_the_good_ones_kept():
    parsed = parse("broken.bib")
    assert [e.arxiv_id for e in parsed.entries] == ["2105.05233", "2006.11239"]
    assert [(s.line, s.reason) for s in parsed.skipped] == [
        (8, "a broken entry (unclosed brace?)"),
        (13, "no title and no arXiv id"),
    ]


def test_ris_records_with_line_numbers():
    parsed = parse("zotero.ris")
    assert parsed.format == "ris"
    scaling, imagenet = parsed.entries
    assert (scaling.arxiv_id, scaling.authors) == ("2001.08361", ("Jared Kaplan", "Sam McCandlish"))
    assert scaling.abstract.startswith("We study empirical scaling laws")
    assert (imagenet.line, imagenet.arxiv_id, imagenet.year) == (11, "", 2012)
    assert [str(s) for s in parsed.skipped] == [
        "line 17: no title and no arXiv id",
        "line 22: the record has no end (ER) line",
    ]


def test_csl_json_from_zotero():
    parsed = parse("zotero.json")
    lora, protein = parsed.entries
    assert (lora.arxiv_id, lora.line, lora.year) == ("2106.09685", 2, 2021)
    assert lora.authors == ("Edward J. Hu", "Yelong Shen")
    assert (protein.arxiv_id, protein.doi) == ("", "10.1093/bioinformatics/btaa123")
    assert [str(s) for s in parsed.skipped] == ["line 26: no title and no arXiv id"]


def test_pasted_ids_urls_and_dois_with_versions():
    parsed = parse("pasted.txt")
    assert parsed.format == "ids"
    assert [e.arxiv_id for e in parsed.entries] == [
        "2409.10594",
        "1706.03762",
        "2304.02643",
        "1505.04597",
        "2106.09685",
        "2001.08361",
        "hep-th/9901001",
    ]
    assert [s.line for s in parsed.skipped] == [8]
    assert "“not an id at all” is not an arXiv id" in parsed.skipped[0].reason


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"   \n\n", "The file is empty."),
        (b"%PDF-1.7\n\x00\x01\x02\xff binary", "This is not a text file"),
        (b"Dear editor,\nplease find attached my paper.\n", "Nothing in the file is a library"),
        (b'[{"title": "x"', "Not valid JSON (line 1"),
    ],
)
def test_a_file_that_is_not_a_library_is_refused(data, message):
    with pytest.raises(LibraryRefused, match=message.replace("(", r"\(")):
        library_import_check(data=data, file_name="upload")


def test_a_6_mb_file_is_refused_before_parsing():
    entry = "@misc{k%d, title={Paper %d}, abstract={%s}}\n"
    data = "".join(entry % (n, n, "x" * 3000) for n in range(2100)).encode()
    assert len(data) > 6 * 1024 * 1024
    with pytest.raises(LibraryRefused, match=r"The file is 6\.\d MB; an import takes at most 5 MB"):
        library_import_check(data=data, file_name="big.bib")


def test_more_than_2000_entries_are_refused(settings):
    data = "\n".join(f"2401.{n:05d}" for n in range(2001)).encode()
    with pytest.raises(LibraryRefused, match="holds 2,001 entries; an import takes at most 2,000"):
        library_import_check(data=data)
    settings.LIBRARY_IMPORT_MAX_ENTRIES = 3000
    assert len(library_import_check(data=data).entries) == 2001


def test_the_format_is_guessed_from_the_name_or_the_content():
    assert guess_format("", file_name="My Library.BIB") == "bibtex"
    assert guess_format("TY  - JOUR\nER  - \n") == "ris"
    assert guess_format('  [{"title": "a"}]') == "csl-json"
    assert guess_format("@article{a, title={b}}") == "bibtex"
    assert guess_format("2409.10594\n") == "ids"
    # An explicit format wins: a BibTeX file read as ids is refused, not misread.
    with pytest.raises(LibraryRefused):
        library_import_check(data=(DATA / "zotero.bib").read_bytes(), format="ids")
    assert parse_library("2409.10594", format="ids").entries[0].arxiv_id == "2409.10594"


def test_title_keys_fold_case_accents_and_punctuation():
    assert title_key("U-Net: Convolutional  Networks!") == "u net convolutional networks"
    assert title_key("Über {Diffusion}") == title_key("uber diffusion")
