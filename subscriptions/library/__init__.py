"""A reader's reference library: the papers they already have, as positive examples.

In: an export file (BibTeX, RIS, CSL-JSON) or a pasted list of arXiv ids, URLs or DOIs.
Out: `LibraryPaper` rows of that reader (title, abstract, authors, arXiv id or DOI), each
import's result on a `LibraryImport` row, and (`selectors.py`) what the digest pipeline reads:
the reader's positive examples (votes and library together) and the papers they already have.

`parsing.py` turns bytes into entries with line numbers (no ORM), `importing.py` stores them
(limits, de-duplication, abstracts from stored papers or arXiv), `summary.py` picks the few
representatives of a large library the model scores with, `selectors.py` reads them back.
"""
