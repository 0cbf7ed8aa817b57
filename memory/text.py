"""Tokenising for search: one place that decides what a query word is."""

from __future__ import annotations

STOPWORDS = frozenset(
    "a about all am an and any are as at be been but by can could did do does doing for from had "
    "has have having he her him his how i if in into is it its me my no not of on or our she so "
    "some than that the their them then there these they this those to up us was we were what "
    "when where which while who whom why will with would you your".split()
)


def words(text: str) -> list[str]:
    """Lower-case alphanumeric runs, in order, duplicates kept."""
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


def content_terms(text: str) -> list[str]:
    """Query words worth matching: no stopwords, no repeats.

    A query of stopwords alone ("and at") has no terms: matching it would rank
    every row by noise, at the cost of a full index walk.
    """
    return [w for w in dict.fromkeys(words(text)) if w not in STOPWORDS]
