"""Redaction that holds up against OCR: find, widen to the whole secret, replace in the original.

1. Normalise OCR noise (ocrnorm): one copy with split tokens joined, one
   also with O/0 and l/1 folded; every detector runs on both.
2. Detect (secret_rules): detect-secrets' formats, hand rules, entropy.
3. Widen each hit to the whole secret: a token through its characters and
   through OCR-split pieces (after a space, or at the start of the next
   line); a labelled value to its closing quote or the end of the line,
   then on through split pieces; a key block to its END line.
4. Merge overlapping spans, map them back to the original text, and
   replace each with `[REDACTED:kind]`. Redacting twice changes nothing.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Sequence

from .ocrnorm import normalise
from .secret_rules import KEY_BLOCK_END, TOKEN_CHARS, Hit, hand_hits, library_hits
from .tokens import bridges, entropy_hits, is_word, tokenish

MARKER = re.compile(r"\[REDACTED:[a-z0-9_]+\]")
_TOKEN_RUN = re.compile(rf"[{TOKEN_CHARS}]*")
_SAME_LINE = re.compile(rf"[ \t]{{1,2}}([{TOKEN_CHARS}]+)")
_NEXT_LINE = re.compile(rf"[ \t]*(?:\n[ \t]*){{1,2}}([{TOKEN_CHARS}]+)")
_JUNK = rf"[^\s{TOKEN_CHARS}\"'`]"  # a stray character OCR put inside a token: [ } , ¢ ...
_GLUED = re.compile(rf"{_JUNK}([{TOKEN_CHARS}]+)")
_GLUED_BEFORE = re.compile(rf"([{TOKEN_CHARS}]+)({_JUNK})?\Z")
_LOOK_BACK = 256
MAX_PIECES = 16  # OCR-split pieces followed from one secret


def _continue(text: str, end: int) -> int:
    """Follow the OCR-split pieces of the secret ending at `end`: a piece glued on by a stray `[` or
    `¢`; on the same line every piece up to the first word (`xoxb-2516 4-07 18818174 143- UWnoVP`
    is one token; a short word between two fragments is bridged); then, if the line ends there, a
    piece that surely continues a token at the start of the next line."""
    for _ in range(MAX_PIECES):
        m = _GLUED.match(text, end)
        if m and tokenish(m.group(1)):
            end = m.end()
            continue
        m = _SAME_LINE.match(text, end)
        if m and not is_word(m.group(1)):
            end = m.end()
            continue
        if m and (after := _SAME_LINE.match(text, m.end())) and bridges(m.group(1), after.group(1)):
            end = after.end()
            continue
        m = _NEXT_LINE.match(text, end)
        if m and tokenish(m.group(1)):
            end = m.end()
            continue
        break
    return end


def _back(text: str, start: int) -> int:
    """For a hit found mid-token: the token characters right before it, and a piece glued on by
    a stray character (`SK5a976238¢ea46739ffea…`)."""
    for _ in range(MAX_PIECES):
        m = _GLUED_BEFORE.search(text, max(0, start - _LOOK_BACK), start)
        if not m or (m.group(2) and not tokenish(m.group(1))):
            break
        start = m.start()
    return start


def _line_end(text: str, at: int) -> int:
    nl = text.find("\n", at)
    end = len(text) if nl < 0 else nl
    while end > at and text[end - 1] in " \t":
        end -= 1
    return end


def widen(text: str, hit: Hit, block_ends: Sequence[int] = ()) -> tuple[int, int]:
    """The whole secret that `hit` found part of; `block_ends`: where each key block's END line
    ends (sorted, found once per text, so many BEGINs without an END cost one scan)."""
    if hit.mode == "exact":
        return hit.start, hit.end
    if hit.mode == "block":
        i = bisect.bisect_left(block_ends, hit.end + 1)
        return hit.start, block_ends[i] if i < len(block_ends) else len(text)
    if hit.mode == "value":
        quote = text[hit.start]
        close = text.find(quote, hit.start + 1, _line_end(text, hit.start)) if quote in "\"'`" else -1
        if close >= 0:
            return hit.start, close + 1
        return hit.start, _continue(text, _line_end(text, hit.start))
    start = hit.start if hit.anchored else _back(text, hit.start)
    return start, _continue(text, _TOKEN_RUN.match(text, hit.end).end())


def merge(spans: Iterable[tuple[int, int, Hit]]) -> list[tuple[int, int, Hit]]:
    """Overlapping spans become one; its kind comes from the best-ranked hit in it."""
    out: list[tuple[int, int, Hit]] = []
    for start, end, hit in sorted(spans, key=lambda s: (s[0], -s[1], s[2].rank, s[2].kind)):
        if out and start < out[-1][1]:
            s0, e0, h0 = out[-1]
            out[-1] = (s0, max(e0, end), hit if hit.rank < h0.rank else h0)
        else:
            out.append((start, end, hit))
    return out


class Redactor:
    """`redact(text)`; `extra` holds the user's own rules (kind -> regex), handled like token prefixes."""

    def __init__(self, extra: dict[str, str] | None = None):
        self.extra = [(kind, re.compile(p)) for kind, p in (extra or {}).items()]

    def hits(self, text: str) -> Iterator[Hit]:
        """The rules that also run on the O/0 l/1-folded copy: cheap, and written to tolerate it."""
        yield from hand_hits(text)
        for kind, pattern in self.extra:
            yield from (Hit(*m.span(), kind, "token", 1) for m in pattern.finditer(text) if m.end() > m.start())

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Original-text spans to redact, with their kinds."""
        norm = normalise(text)
        markers = [m.span() for m in MARKER.finditer(norm.joined)]

        def fresh(hit: Hit) -> bool:
            return not any(a <= hit.start < b for a, b in markers)

        variants = (norm.joined,) if norm.folded == norm.joined else (norm.joined, norm.folded)
        found = [h for variant in variants for h in self.hits(variant)]
        found += [*library_hits(norm.joined), *entropy_hits(norm.joined)]  # OCR-tolerant prefixes are hand rules
        ends = [m.end() for m in KEY_BLOCK_END.finditer(norm.joined)]
        widened = [(*widen(norm.joined, h, ends), h) for h in found if fresh(h)]
        original = [(*norm.span(s, e), h) for s, e, h in widened if e > s]
        return [(s, e, h.kind) for s, e, h in merge(original)]

    def redact(self, text: str) -> str:
        if not text:
            return text
        out, at = [], 0
        for start, end, kind in self.spans(text):
            out += [text[at:start], f"[REDACTED:{kind}]"]
            at = end
        return "".join([*out, text[at:]])

