"""Full-text search over propositions: BM25 candidates, and FTS5's own view of words.

Anything that explains or scores a BM25 match asks FTS5 how it tokenizes
(`terms`), instead of imitating its porter stemmer: a hand-written stemmer
disagreed with it ("running" matched "Sam runs…" as BM25 #1, yet counted as
no match), and every score floor then dropped the best hit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from .db import Connection
from .schema import FTS_TOKENIZER
from .sql import filter_sql, fts_query, placeholders
from .text import content_terms
from .types import SearchFilters

# Per connection, in the temp schema: a scratch FTS5 table with the index's
# tokenizer, and vocabularies that list its tokens and the real index's.
_TEMP_TABLES = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokenizer USING fts5(body, content='', tokenize='{FTS_TOKENIZER}')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokenizer_terms USING fts5vocab(tokenizer, 'instance')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.proposition_terms USING fts5vocab(main, propositions_fts, 'row')",
)


class FullText:
    def __init__(self, conn: Connection):
        self.conn = conn

    def candidates(self, query: str, k: int, filters: SearchFilters) -> list[int]:
        """BM25 order over proposition text (weighted 1.0) and reasoning (0.3)."""
        match = fts_query(query)
        if not match or k <= 0:
            return []
        where, params = filter_sql(filters)
        rows = self.conn.tuples(
            # CROSS JOIN pins the FTS match as the outer loop; otherwise SQLite
            # may walk `propositions` by index and probe FTS once per row.
            "SELECT p.id FROM propositions_fts f CROSS JOIN propositions p ON p.id = f.rowid "
            f"WHERE propositions_fts MATCH ? AND {where} "
            "ORDER BY bm25(propositions_fts, 1.0, 0.3) LIMIT ?",
            [match, *params, k],
        )
        return [r[0] for r in rows]

    def _temp_tables(self) -> None:
        """Made on first use, and again if a rolled-back transaction took them away."""
        for statement in _TEMP_TABLES:
            self.conn.execute(statement)

    def terms(self, texts: Sequence[str]) -> list[frozenset[str]]:
        """The tokens FTS5 indexes for each text (lower-cased, diacritics folded, porter-stemmed)."""
        if not texts:
            return []
        with self.conn.lock:
            self._temp_tables()
            try:  # one statement for all texts: a few ms less than a row at a time
                self.conn.execute("INSERT INTO temp.tokenizer (rowid, body) SELECT key, value FROM json_each(?)",
                                  [json.dumps(list(texts))])
                rows = self.conn.tuples("SELECT doc, term FROM temp.tokenizer_terms")
            finally:
                self.conn.execute("INSERT INTO temp.tokenizer (tokenizer) VALUES ('delete-all')")
        found: list[set[str]] = [set() for _ in texts]
        for doc, term in rows:
            found[doc].add(term)
        return [frozenset(t) for t in found]

    def query_terms(self, query: str) -> frozenset[str]:
        """The tokens a BM25 search for `query` matches on (stopwords dropped, as in the search)."""
        words = content_terms(query)
        return self.terms([" ".join(words)])[0] if words else frozenset()

    def term_stats(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        """(propositions indexed, {term: how many of them contain it}), for IDF weights."""
        terms = list(dict.fromkeys(terms))
        with self.conn.lock:
            self._temp_tables()
            total = self.conn.tuples("SELECT count(*) FROM propositions")[0][0]
            rows = self.conn.tuples(
                f"SELECT term, doc FROM temp.proposition_terms WHERE term IN ({placeholders(terms)})",
                terms,
            ) if terms else []
        counts = {t: 0 for t in terms}
        counts.update({term: doc for term, doc in rows})
        return total, counts
