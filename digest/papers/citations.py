"""A paper as a reference manager reads it: BibTeX, CSL-JSON and Highwire `citation_*` tags.

In: a plain :class:`CitationRecord` (made from a Paper by :func:`citation_record`, or by any
caller that has a title, authors and an arXiv id, such as a reader's library). Out: text only.

Every entry names the paper the way arXiv's own export does, so Zotero, JabRef and BibDesk
file it as an arXiv preprint: `eprint` + `archivePrefix = {arXiv}` + `primaryClass`, and the
DOI arXiv registers for every paper, 10.48550/arXiv.<id>
(https://info.arxiv.org/help/faq/references.html). BibTeX values are LaTeX-encoded by pylatexenc
(braces, %, &, accents: `{\\"u}`), so the file works with classic BibTeX as well as biber;
characters LaTeX has no macro for (CJK names) are kept as UTF-8, which biber and the reference
managers read. CSL-JSON is the schema at https://citeproc-js.readthedocs.io/en/latest/csl-json/.
Highwire tags: https://scholar.google.com/intl/en/scholar/inclusion.html#indexing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import bibtexparser
from bibtexparser.middlewares.names import parse_single_name_into_parts
from bibtexparser.model import Entry, Field
from pylatexenc.latexencode import UnicodeToLatexEncoder

from digest.models import Paper

ARXIV_DOI_PREFIX = "10.48550/arXiv."

# New-style ids carry the month they were submitted in: 2401.01234 is January 2024.
_NEW_STYLE_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
# Old-style ids: hep-th/9901001 is January 1999.
_OLD_STYLE_ID = re.compile(r"^[a-z-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}$")


@dataclass(frozen=True, slots=True)
class CitationRecord:
    """What a citation says about an arXiv paper; nothing here needs the database."""

    arxiv_id: str
    title: str
    authors: tuple[str, ...] = ()
    # The day the paper appeared (its first version); None: the month of its id, if any.
    published: date | None = None
    primary_category: str = ""
    abstract: str = ""

    @property
    def doi(self) -> str:
        return ARXIV_DOI_PREFIX + self.arxiv_id

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def issued(self) -> tuple[int, ...]:
        """(year, month, day) as far as known: the publication day, else the id's month."""
        if self.published is not None:
            return (self.published.year, self.published.month, self.published.day)
        for pattern in (_NEW_STYLE_ID, _OLD_STYLE_ID):
            match = pattern.match(self.arxiv_id)
            if match:
                yy, month = int(match[1]), int(match[2])
                return (2000 + yy if yy < 91 else 1900 + yy, month)
        return ()

    @property
    def key(self) -> str:
        """A BibTeX key a person can type: first author's surname, year, arXiv id
        (`lovelace2024_2401.01234`); the id keeps it unique."""
        surname = ""
        if self.authors:
            parts = parse_single_name_into_parts(self.authors[0], strict=False)
            surname = "".join(parts.last) or self.authors[0]
        ascii_surname = (
            unicodedata.normalize("NFKD", surname).encode("ascii", "ignore").decode().lower()
        )
        year = str(self.issued[0]) if self.issued else ""
        prefix = (re.sub(r"[^a-z]", "", ascii_surname) or "arxiv") + year
        return f"{prefix}_{self.arxiv_id.replace('/', '_')}"


def citation_record(paper: Paper) -> CitationRecord:
    return CitationRecord(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        authors=tuple(str(author) for author in paper.authors),
        published=paper.published_at.date() if paper.published_at else None,
        primary_category=paper.primary_category,
        abstract=paper.abstract,
    )


# BibTeX ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _encoder() -> UnicodeToLatexEncoder:
    # 'braces-all' wraps every macro ({\"u}, {\%}): safe inside any word and any BibTeX style.
    # A character without a LaTeX macro is kept as is (see the module docstring).
    return UnicodeToLatexEncoder(
        replacement_latex_protection="braces-all",
        unknown_char_policy=lambda char: char,
        unknown_char_warning=False,
    )


def latex(text: str) -> str:
    """Plain text as a BibTeX value: specials escaped, accents as macros, one line."""
    return _encoder().unicode_to_latex(" ".join(text.split()))


def _bibtex_name(name: str) -> str:
    """One author for the `author` field. A name that holds " and " or a comma (a consortium,
    a team) is braced whole, so BibTeX neither splits it into two people nor reorders it."""
    encoded = latex(name)
    if re.search(r"\band\b", name, flags=re.IGNORECASE) or "," in name:
        return "{" + encoded + "}"
    return encoded


def bibtex_entry(record: CitationRecord) -> Entry:
    fields = [
        Field("title", latex(record.title)),
        Field("author", " and ".join(_bibtex_name(a) for a in record.authors if a.strip())),
    ]
    if record.issued:
        fields.append(Field("year", str(record.issued[0])))
    if len(record.issued) > 1:
        fields.append(Field("month", _MONTHS[record.issued[1] - 1]))
    fields += [
        Field("eprint", record.arxiv_id),
        Field("archivePrefix", "arXiv"),
    ]
    if record.primary_category:
        fields.append(Field("primaryClass", latex(record.primary_category)))
    fields += [Field("doi", record.doi), Field("url", record.abs_url)]
    if record.abstract:
        fields.append(Field("abstract", latex(record.abstract)))
    # The author field of a paper with no listed authors is left out rather than empty.
    fields = [f for f in fields if f.value]
    return Entry("misc", record.key, fields)


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def bibtex(records: Iterable[CitationRecord]) -> str:
    """A .bib file of the records, one @misc entry each (the type arXiv's export uses)."""
    library = bibtexparser.Library()
    seen: set[str] = set()
    for record in records:
        if record.arxiv_id in seen:
            continue
        seen.add(record.arxiv_id)
        library.add(bibtex_entry(record))
    if not library.entries:
        return ""
    # Values are already encoded; the default write stack only adds the enclosing braces
    # (months stay bare: `jan` is a macro every style defines).
    return _MONTH_BRACES.sub(r"\1\2", bibtexparser.write_string(library))


_MONTH_BRACES = re.compile(r"(\bmonth = )\{(" + "|".join(_MONTHS) + r")\}")


# CSL-JSON ----------------------------------------------------------------------------------


def _csl_name(name: str) -> dict[str, str]:
    """BibTeX's rules for "First von Last, Jr" split the name (bibtexparser implements them);
    a one-word name or a consortium stays whole as a literal."""
    if re.search(r"\band\b", name, flags=re.IGNORECASE) or "," in name or " " not in name:
        return {"literal": name}
    parts = parse_single_name_into_parts(name, strict=False)
    found = {
        "given": " ".join(parts.first),
        "non-dropping-particle": " ".join(parts.von),
        "family": " ".join(parts.last),
        "suffix": " ".join(parts.jr),
    }
    return {key: value for key, value in found.items() if value}


def csl_item(record: CitationRecord) -> dict[str, object]:
    # CSL 1.0.2: type "article" is a preprint; arXiv is its publisher and the id its number
    # (what Zotero's arXiv translator writes).
    item: dict[str, object] = {
        "id": record.key,
        "type": "article",
        "title": " ".join(record.title.split()),
        "author": [_csl_name(a) for a in record.authors if a.strip()],
        "publisher": "arXiv",
        "number": f"arXiv:{record.arxiv_id}",
        "DOI": record.doi,
        "URL": record.abs_url,
    }
    if record.issued:
        item["issued"] = {"date-parts": [list(record.issued)]}
    if record.primary_category:
        item["keyword"] = record.primary_category
    if record.abstract:
        item["abstract"] = record.abstract
    return item


def csl_json(records: Iterable[CitationRecord]) -> list[dict[str, object]]:
    seen: set[str] = set()
    items = []
    for record in records:
        if record.arxiv_id not in seen:
            seen.add(record.arxiv_id)
            items.append(csl_item(record))
    return items


# Highwire Press meta tags ------------------------------------------------------------------


def highwire_tags(record: CitationRecord, *, page_url: str) -> list[tuple[str, str]]:
    """(name, content) pairs for <meta name=... content=...>, in the order Zotero's Embedded
    Metadata translator and Google Scholar read them: one citation_author per author."""
    tags = [("citation_title", " ".join(record.title.split()))]
    tags += [("citation_author", author) for author in record.authors if author.strip()]
    if record.issued:
        issued = "/".join(f"{part:02d}" if i else str(part) for i, part in enumerate(record.issued))
        tags += [("citation_date", issued), ("citation_publication_date", issued)]
    tags += [
        ("citation_arxiv_id", record.arxiv_id),
        ("citation_doi", record.doi),
        ("citation_publisher", "arXiv"),
        ("citation_pdf_url", record.pdf_url),
        ("citation_abstract_html_url", page_url),
    ]
    return tags
