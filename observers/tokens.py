"""What a token looks like after OCR, as opposed to a word, a number or a path.

Tesseract cuts long tokens into pieces at spaces (often before a `1`) and
may read a few characters as a short word (`sk-6hMd purb T3Blbk`). So text
is seen as pieces (runs of token characters), and a token as a cluster of
neighbouring pieces that are not words, bridging a short word that sits
between two fragments. The same rules tell the redactor where a secret it
recognised by its prefix or label ends.

Randomness is judged without a dictionary: a token mixes letters and
digits, and its lowercase runs are short, where identifiers and prose are
made of word-length runs (`getS3BucketPolicy` is mostly `Bucket`, `Policy`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from .secret_rules import Hit

PIECE_CHARS = r"A-Za-z0-9+/_\-|"  # | is how OCR often reads l or I
CLUSTER = re.compile(rf"[{PIECE_CHARS}]+=*(?:[ \t]{{1,2}}[{PIECE_CHARS}]+=*)*")
PIECE = re.compile(rf"[{PIECE_CHARS}]+=*")
CAMEL_SEGMENT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_WORD_PARTS = re.compile(r"[_\-.=]")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-.]*=[^=]")

MIN_ALNUM = 16  # shorter strings are never judged random without a label or prefix
MIN_PIECE = 6  # a cluster of short pieces ("x86 64 arm64 v8") is not a token
BRIDGE = 8  # a word this short between two fragments is taken for a misread piece of the token
MAX_WORDY = 0.5  # share of characters in word-length runs: random base62 ~0.2, identifiers 0.6+
MAX_WORDY_NO_DIGITS = 0.25
MIN_ENTROPY = 3.0  # bits per character (detect-secrets' Shannon entropy)


@cache
def _entropy_of():  # noqa: ANN202
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString

    return Base64HighEntropyString().calculate_shannon_entropy


def alnum(piece: str) -> int:
    return sum(c.isalnum() for c in piece)


def is_word(piece: str) -> bool:
    """Words, or words joined by _ - . = (`after`, `Lisbon`, `GET`, `HF_HUB`, `DATABASE_URL=postgres`),
    not a token fragment (`JpyzPC`, `1a0d`, `18818174`, `-QpL`, `sk_live_lI6C`). camelCase is not
    a word here: OCR'd token pieces look like it (`TaqgQwolbj`)."""
    return all(p.isalpha() and (p.islower() or p.isupper() or p.istitle()) for p in _WORD_PARTS.split(piece))


def bridges(piece: str, following: str | None) -> bool:
    """A short word between token fragments (`purb` in `sk-6hMd purb T3BlbkFJOv`) is part of the token."""
    return len(piece) <= BRIDGE and following is not None and not is_word(following) and alnum(following) >= MIN_PIECE


def tokenish(piece: str) -> bool:
    """Stricter: a piece at the start of the next line that surely continues a token (`cfBAepfJ8d`),
    not a word, a number, a date or a new `KEY=value`."""
    core = piece.strip("-_.=/+~%|")
    if _ASSIGNMENT.match(piece):
        return False
    if piece[:1] in "-_=/+" and len(core) >= 2:
        return True
    has_digit, has_alpha = any(c.isdigit() for c in core), any(c.isalpha() for c in core)
    inner_upper = any(c.isupper() for c in core[1:]) and any(c.islower() for c in core)
    return len(core) >= 4 and ((has_digit and has_alpha) or inner_upper) and not is_word(piece)


def looks_random(run: str) -> bool:
    """A token, not a word, an identifier, a number or a date."""
    chars = "".join(c for c in run if c.isalnum())
    digits = sum(c.isdigit() for c in chars)
    if len(chars) < MIN_ALNUM or len(chars) - digits < 3:
        return False
    wordy = sum(len(s) for s in CAMEL_SEGMENT.findall(chars) if len(s) >= 4 and not s.isdigit() and not s.isupper())
    if digits == 0 and not (any(c.islower() for c in chars) and any(c.isupper() for c in chars)):
        return False
    limit = MAX_WORDY if digits else MAX_WORDY_NO_DIGITS
    return wordy / len(chars) < limit and _entropy_of()(chars) >= MIN_ENTROPY


def _judge(pieces: list[re.Match[str]], base: int) -> Iterator[Hit]:
    """A cluster is a token if it is random as a whole or any of its longer pieces is."""
    if not pieces or max(alnum(p.group()) for p in pieces) < MIN_PIECE:
        return
    if looks_random("".join(p.group() for p in pieces)) or any(looks_random(p.group()) for p in pieces):
        yield Hit(base + pieces[0].start(), base + pieces[-1].end(), "high_entropy", "token", 3, anchored=False)


def _path_segments(piece: re.Match[str], base: int) -> Iterator[Hit]:
    """A path is judged segment by segment, so `/home/sam/projects/report.md` stays readable."""
    for seg in re.finditer(r"[^/]+", piece.group()):
        if looks_random(seg.group()):
            yield Hit(base + piece.start() + seg.start(), base + piece.start() + seg.end(), "high_entropy", "exact", 3)


def entropy_hits(text: str) -> Iterator[Hit]:
    """Random-looking clusters of pieces, and random segments of paths."""
    for m in CLUSTER.finditer(text):
        pieces = list(PIECE.finditer(m.group()))
        group: list[re.Match[str]] = []
        for i, piece in enumerate(pieces):
            word = piece.group()
            following = pieces[i + 1].group() if i + 1 < len(pieces) else None
            if word.startswith("/"):
                yield from _judge(group, m.start())
                group = []
                yield from _path_segments(piece, m.start())
            elif not is_word(word) or (group and bridges(word, following)):
                group.append(piece)
            else:
                yield from _judge(group, m.start())
                group = []
        yield from _judge(group, m.start())
