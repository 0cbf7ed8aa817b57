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


# The most matching rows one BM25 query scores (FTS5 takes a few µs a row). Past this, the words
# match so many rows that BM25 barely tells them apart: at 100k propositions, lowering it from
# 5000 to 1000 left hybrid_recall_at_10 in bench/retrieval.py unchanged.
MAX_SCORED = 2000
# FTS5's structure record (the index's list of segments) lives at id 10 of its %_data table.
STRUCTURE = "SELECT block FROM propositions_fts_data WHERE id = 10"


class FullText:
    def __init__(self, conn: Connection, max_scored: int = MAX_SCORED):
        self.conn = conn
        self.max_scored = max_scored
        self._counted: tuple[tuple[bytes, int] | None, dict[str, int]] = (None, {})  # see term_stats

    def candidates(self, query: str, k: int, filters: SearchFilters) -> list[int]:
        """The `k` best by BM25 over text (weight 1.0) and reasoning (0.3); newest first on ties.

        FTS5 scores every row that matches any query word, a few µs a row, and
        a word such as "Sam" in a memory about Sam matches every row: 150 ms
        at 100k propositions. So when the words match more than `max_scored`
        rows in all:
        - words in more than half the rows leave the match. FTS5's bm25 gives
          them an IDF of 1e-6, so they cannot reorder rows that match other
          words; they only made FTS5 score every row (and pad a short list
          with rows matching nothing else). If every word is like that, BM25
          cannot rank at all, and the newest matching rows come first.
        - rows holding all the other words (an intersection FTS5 walks
          cheaply) are taken when at least `k` of them pass the filters. A
          row missing a word rarely outscores one with all of them, but can.
        - at most the newest `max_scored` matching rows are scored (see `_best`).
        bench/retrieval.py measures what these shortcuts lose against the
        exact order (`hybrid_recall_at_10`).
        """
        words = content_terms(query)
        if not words or k <= 0:
            return []
        n_rows, counts = self._word_counts(words)
        words = [w for w in words if counts[w]]
        if sum(counts.values()) <= self.max_scored:
            return self._best(words, "OR", k, filters)  # exact: every match is scored
        telling = [w for w in words if counts[w] <= n_rows / 2]
        if not telling:
            return self._newest(words, k, filters)
        if len(telling) > 1 and len(found := self._best(telling, "AND", k, filters)) == k:
            return found
        return self._best(telling, "OR", k, filters)

    def _word_counts(self, words: list[str]) -> tuple[int, dict[str, int]]:
        """(rows indexed, {word: rows matching it}), each word read by FTS5's tokenizer."""
        tokens = self.terms(words)
        n_rows, counts = self.term_stats(set().union(*tokens))
        # A word that is several tokens matches as a phrase: at most its rarest token's rows.
        return n_rows, {w: min((counts[t] for t in ts), default=0) for w, ts in zip(words, tokens, strict=True)}

    def _best(self, words: list[str], op: str, k: int, filters: SearchFilters) -> list[int]:
        """BM25 order over at most the newest `max_scored` matching rows that pass the filters.

        FTS5 ranks on its own first, and only its best 4k rows meet the
        filters: a row lookup each, which costs as much as scoring. When fewer
        than `k` of them pass, the filters apply to each row as it is scored.
        """
        if not words:
            return []
        where, params = filter_sql(filters)
        match = fts_query(words, op)
        shortlist = self.conn.tuples(
            "SELECT p.id FROM (SELECT id, score FROM (SELECT rowid AS id, bm25(propositions_fts, 1.0, 0.3) AS score "
            "FROM propositions_fts WHERE propositions_fts MATCH ? ORDER BY rowid DESC LIMIT ?) "
            "ORDER BY score, id DESC LIMIT ?) s "
            f"CROSS JOIN propositions p ON p.id = s.id WHERE {where} ORDER BY s.score, s.id DESC LIMIT ?",
            [match, self.max_scored, 4 * k, *params, k],
        )
        if len(shortlist) == k:
            return [r[0] for r in shortlist]
        rows = self.conn.tuples(
            # CROSS JOIN pins the FTS match as the outer loop, which FTS5 walks
            # newest first; otherwise SQLite may walk `propositions` by index
            # and probe FTS once per row.
            "SELECT id FROM (SELECT p.id AS id, bm25(propositions_fts, 1.0, 0.3) AS score "
            "FROM propositions_fts f CROSS JOIN propositions p ON p.id = f.rowid "
            f"WHERE propositions_fts MATCH ? AND {where} ORDER BY f.rowid DESC LIMIT ?) "
            "ORDER BY score, id DESC LIMIT ?",
            [match, *params, self.max_scored, k],
        )
        return [r[0] for r in rows]

    def _newest(self, words: list[str], k: int, filters: SearchFilters) -> list[int]:
        where, params = filter_sql(filters)
        rows = self.conn.tuples(
            "SELECT p.id FROM propositions_fts f CROSS JOIN propositions p ON p.id = f.rowid "
            f"WHERE propositions_fts MATCH ? AND {where} ORDER BY f.rowid DESC LIMIT ?",
            [fts_query(words), *params, k],
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
        """(propositions indexed, {term: how many of them contain it}), for IDF weights.

        Counting a term walks its whole posting list (a few ms for "Sam" in
        100k rows), and a search asks twice, so counts are kept until the
        index changes: the key is FTS5's structure record, which every
        committed change to the index rewrites, with the row count (a
        secure-delete may leave the structure as it was). Inside a
        transaction nothing is kept, as uncommitted rows are not in it yet.
        """
        terms = list(dict.fromkeys(terms))
        with self.conn.lock:
            self._temp_tables()
            key = (self.conn.tuples(STRUCTURE)[0][0], self.conn.tuples("SELECT count(*) FROM propositions")[0][0])
            if not self.conn.idle or key != self._counted[0]:
                self._counted = (key if self.conn.idle else None, {})
            counts = self._counted[1]
            if missing := [t for t in terms if t not in counts]:
                counts.update(dict.fromkeys(missing, 0))
                counts.update(self.conn.tuples(
                    f"SELECT term, doc FROM temp.proposition_terms WHERE term IN ({placeholders(missing)})", missing))
        return key[1], {t: counts[t] for t in terms}
