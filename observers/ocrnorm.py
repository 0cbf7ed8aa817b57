"""OCR noise, undone before secrets are matched.

Tesseract splits tokens around punctuation (`xoxb-5512 -QpL`) and confuses
O with 0 and l with 1. Secrets are matched on a normalised copy of the text
in which every character remembers where it came from, so a match redacts
the original span: the stray spaces and the misread characters go with it.

Two copies share one index map (the fold swaps characters one for one):
- `joined`: spaces around `- _ . : / = @` removed between token characters, and a stray
  `¢ } { \\ , ' `` ` between two of them;
- `folded`: `joined`, with O/0 and l/1 read the way their run reads: as
  digits in a mostly-numeric run (`4l11` → `4111`), as letters otherwise
  (`x0xb` → `xoxb`, `PASSW0RD` → `PASSWORD`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# One or two spaces next to a separator, with token characters around them.
_GAP = re.compile(r"(?<=[A-Za-z0-9_\-.:/=+@])[ \t]{1,2}(?=[-_.:/=@])|(?<=[-_.:/=@])[ \t]{1,2}(?=[A-Za-z0-9_\-+/=])")
# A stray character OCR put inside a word or token (`DB_P}ASSWORD`, `41¢ll`, `sla,ck`): dropped from the copy.
_STRAY = r"(?<=[A-Za-z0-9_])[¢}{\\,'`](?=[A-Za-z0-9_])"
_DROP = re.compile(f"{_GAP.pattern}|{_STRAY}")
_RUN = re.compile(r"[A-Za-z0-9|]+")  # only runs with a digit or | change (_fold_run); no backtracking on letters
_LETTERISH, _DIGITISH = frozenset("OolI|"), frozenset("01")
_STRAIGHT_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'"})  # OCR's curly quotes
_TO_DIGIT = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "|": "1"})


@dataclass(frozen=True)
class Normalised:
    original: str
    joined: str
    folded: str
    origin: tuple[int, ...]  # origin[i]: index in `original` of joined[i]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span that the normalised span [start, end) came from."""
        if start >= end:
            at = self.origin[start] if start < len(self.origin) else len(self.original)
            return at, at
        return self.origin[start], self.origin[end - 1] + 1


def _fold_run(match: re.Match[str]) -> str:
    run = match.group()
    if "|" not in run and not any(c.isdigit() for c in run):
        return run
    digits = sum(c.isdigit() and c not in _DIGITISH for c in run)
    letters = sum(c.isalpha() and c not in _LETTERISH for c in run)
    if digits > letters or (digits == letters == 0 and sum(c in _DIGITISH for c in run) > sum(
            c in _LETTERISH for c in run)):
        return run.translate(_TO_DIGIT)
    if letters == 0:
        return run
    out = list(run)
    upper = _nearest_letter_is_upper(run)
    for i, c in enumerate(run):
        if c in "01|":
            out[i] = ("O" if upper[i] else "o") if c == "0" else ("I" if upper[i] else "l")
    return "".join(out)


def _nearest_letter_is_upper(run: str) -> list[bool]:
    """For each position, the case of the nearest letter, looking ahead first (`x0xb` → lower,
    `W0RD` → upper), else behind; two linear passes, so a long run costs no more than its length."""
    ahead: list[bool | None] = [None] * len(run)
    nxt: bool | None = None
    for j in range(len(run) - 1, -1, -1):
        ahead[j] = nxt
        if run[j].isalpha():
            nxt = run[j].isupper()
    out, prev = [], None
    for j, c in enumerate(run):
        out.append(ahead[j] if ahead[j] is not None else bool(prev))
        if c.isalpha():
            prev = c.isupper()
    return out


def normalise(text: str) -> Normalised:
    pieces, origin, at = [], [], 0
    for gap in _DROP.finditer(text):
        pieces.append(text[at:gap.start()])
        origin.extend(range(at, gap.start()))
        at = gap.end()
    pieces.append(text[at:])
    origin.extend(range(at, len(text)))
    joined = "".join(pieces).translate(_STRAIGHT_QUOTES)  # one for one: the index map holds
    return Normalised(text, joined, _RUN.sub(_fold_run, joined), tuple(origin))
