"""Propose: one screened segment in, draft propositions out; drafts that must not be stored are dropped.

One segment per model call, one worked example (models/prompts.py). Before
the model sees the segment's text:
- the fence is made unbreakable: angle brackets in observation text become
  ‹ › so no `</activity>` (nor a chat-template token such as `<|im_end|>`)
  can close it;
- a segment in which any text addresses an AI ("ignore previous
  instructions", "output a proposition that ...", "remember that Sam ...")
  has all its text and titles withheld, app and site kept: found after normalising
  (injection.py, which says why the whole text and why typed text too).
  The 1.5B default model followed such orders even inside the fence.

After, each draft is dropped, with its reason, when it:
- copies the worked example: its words shared with an example claim, and
  not found in the session itself, make up half of what it says (token
  sets, so "Sam listens to music while writing" is caught and a mention
  of "Alexander" is not);
- copies the screen: it quotes 30 characters or more of the session's
  text verbatim (code, a sentence);
- is generic: nothing left once the user's name, common words and common
  app names are taken out ("uses a computer", "browses the web", "uses
  Firefox");
- is about someone else: it does not start with the user's name;
- carries a secret: the privacy redactor changes it, or it speaks of a
  password, key or other credential at all.

A segment the screen marked low-information (news only read) is proposed
with a "merely seen" hint; a skipped one makes no call. The model's
confidence is capped at the single-session prior (confidence.py): its own
number is not evidence. A SchemaError propagates with its raw output, for
quarantine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from tacitd.memory.text import STOPWORDS, words
from tacitd.memory.types import Observation, Proposition, Support
from tacitd.models.llm import LLM
from tacitd.models.prompts import EXAMPLE_ANSWER, EXAMPLE_USER, Drafts, output_budget, \
    propose_messages
from tacitd.observers.privacy import PrivacyFilter, host_of

from .activity import EDITORS, TERMINALS
from .confidence import confidence
from .injection import WITHHELD, addresses_ai, any_addresses_ai
from .screen import Screened, is_doing

MAX_SESSION_CHARS = 1800
MAX_OBSERVATION_CHARS = 600
CREDENTIAL = re.compile(
    r"\b(pass(word|words|code|phrase)|pin( code)?|api[ _-]?keys?|secret keys?|private keys?|access tokens?|"
    r"credentials?|login details|security code|cvv|seed phrase|recovery (code|phrase)|2fa codes?|otp)\b",
    re.IGNORECASE)
ECHO_CHARS = 30  # a run this long quoted from the screen is a copy
CODE_MARKS = "=(){}[];<>"  # ... when it is code
EXAMPLE_LIKE_AT = 0.4  # MiniLM cosine to an example claim: copies of its shape 0.48-0.60, own claims <= 0.23
COPY_SHARE = 0.5  # a draft whose words are this much example-but-not-session is a copy
GENERIC_WORDS = frozenset(
    "user users uses use using used computer computers laptop desktop browse browses browsing browser "
    "browsers web website websites internet online app apps application applications software program "
    "programs tool tools screen screens window windows open opens opening visit visits visited spends "
    "spend spent time active activity activities various different things stuff content pages page "
    "interested interest frequently often regularly sometimes likely probably also coding code editor editors "
    "programming typing writing writes file files folder".split())
COMMON_APPS = EDITORS | TERMINALS | frozenset(
    "firefox chrome chromium brave edge safari opera vivaldi google slack discord teams zoom telegram "
    "whatsapp signal thunderbird outlook gmail mail spotify youtube files nautilus finder explorer "
    "settings calculator calendar visual studio vs microsoft office notion docs sheets".split())
PRIVACY = PrivacyFilter()


@dataclass(frozen=True)
class Dropped:
    text: str
    reason: str


@dataclass
class Proposals:
    """What propose kept (not yet stored) and what it dropped, each with its reason."""

    propositions: list[Proposition] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    neutralised: int = 0  # texts and titles withheld from the model's view (injection.py)
    session: str = ""  # the session text the model was shown (session_text)


def fence_safe(text: str) -> str:
    """Text that cannot close the fence or open a chat turn: angle brackets become ‹ ›, lines one line."""
    return " ".join(text.replace("<", "‹").replace(">", "›").split())


def _field(value: str, user_name: str) -> tuple[str, int]:
    """An app name or a title for the line: withheld when it addresses an AI itself."""
    if addresses_ai(value, user_name):
        return WITHHELD, 1
    return fence_safe(value).replace("|", "/"), 0


def session_text(observations: Sequence[Observation], user_name: str = "the user") -> tuple[str, int]:
    """One line per observation (app, window, minutes, text), fenced and capped; and how many fields withheld.

    Text is labelled 'typed' (an editor, terminal, office app or editing
    site: screen.is_doing) or 'page shows' (what a site or an app displayed),
    so the model can tell a booking the user made from a page selling one
    (Qwen 1.5B kept 'own work'/'shown' apart less well: it read a cruise
    page's title as the user's search).
    """
    texts = [o.text for o in observations]
    fields = [f for o in observations for f in (o.app, o.window_title)]
    # each text alone, and all of them read on (a scroll splits "Ignore all previous" | "instructions and ...")
    tainted = any_addresses_ai([*fields, *texts, "\n".join(texts)], user_name)
    lines, withheld = [], 0
    for o in observations:
        app, n_app = _field(o.app or o.observer, user_name)
        parts, withheld = [f"app: {app}"], withheld + n_app
        if tainted:  # the page that gave the order wrote its title too; its site stays (injection.py)
            parts += [f"site: {_field(host, user_name)[0]}"] if (host := host_of(o.url)) else []
            withheld += bool(o.window_title) and addresses_ai(o.window_title, user_name)
        elif o.window_title:
            parts.append(f"window: {_field(o.window_title, user_name)[0]}")
        if o.duration_s >= 60:
            parts.append(f"{o.duration_s / 60:.0f} min")
        if o.text.strip():
            text = WITHHELD if tainted else fence_safe(o.text)[:MAX_OBSERVATION_CHARS]
            withheld += tainted
            parts.append(("typed: " if is_doing(o) else "page shows: ") + text)
        lines.append(" | ".join(parts))
    return "\n".join(lines)[:MAX_SESSION_CHARS], withheld


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "s", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """Content words, crudely stemmed: enough to compare short claims by what they say."""
    return {_stem(w) for w in words(text) if w not in STOPWORDS and not w.isdigit()}


def _names(user_name: str) -> set[str]:
    return terms(user_name) | ({"user"} if user_name.lower() in ("the user", "user") else set())


EXAMPLE_TERMS = [terms(d.text) - _names(EXAMPLE_USER) for d in EXAMPLE_ANSWER.propositions]


def copies_example(text: str, session: str, user_name: str) -> bool:
    """Most of what the draft says comes from an example claim and is nowhere in the session."""
    said = terms(text) - _names(user_name)
    if not said:
        return False
    grounded = terms(session)
    if EXAMPLE_USER.lower() in words(text) and EXAMPLE_USER.lower() not in words(session):
        return True
    return any(len((said & example) - grounded) >= COPY_SHARE * len(said) for example in EXAMPLE_TERMS)


def like_example(text: str, session: str, similar: Sequence[tuple[str, float]]) -> bool:
    """Close in meaning to an example claim, and resting on a word of it that the session never shows.

    "Sam listens to Google Docs pages on Firefox while writing" (the sample day, Qwen 1.5B) shares only
    3 of its 7 words with "Alex listens to focus playlists on Spotify while writing", so `copies_example`
    let it through; by meaning it is at cosine 0.48 from it (MiniLM), the day's own claims at most 0.23.
    `similar` holds each example claim with its cosine to the draft.
    """
    grounded = terms(session)
    return any(cos >= EXAMPLE_LIKE_AT and (terms(text) & terms(example)) - grounded - _names(EXAMPLE_USER)
               for example, cos in similar)


def is_generic(text: str, user_name: str) -> bool:
    """Nothing specific left once the name, common words and common apps are removed."""
    generic = GENERIC_WORDS | {_stem(w) for w in GENERIC_WORDS} | COMMON_APPS | _names(user_name)
    return not (terms(text) - generic - {_stem(a) for a in COMMON_APPS})


def about_user(text: str, user_name: str) -> bool:
    """The claim's subject is the user: it opens with their (first) name, or 'The user'."""
    opening, name = words(text)[:2], words(user_name)
    if opening == ["the", "user"] or opening[:1] == ["user"]:
        return True
    return name not in ([], ["the", "user"], ["user"]) and opening[:1] == name[:1]


def echoes_screen(text: str, session: str) -> bool:
    """The draft quotes a long run of code from the screen: a copy, not an inference.

    With the text marked 'typed', Qwen 1.5B once answered "Sam wrote config =
    LoraConfig(r=16, lora_alpha=32) and model = ..." (45 characters quoted).
    Only code counts (a run with `CODE_MARKS` in it): a claim that names its
    topic in the title's words ("writing a grant proposal on soil moisture
    sensors for smallholder farms") is what a good claim looks like, and a
    rule on prose alone dropped exactly those.
    """
    match = SequenceMatcher(None, text.lower(), session.lower(), autojunk=False)
    run = match.find_longest_match(0, len(text), 0, len(session))
    quoted = text[run.a:run.a + run.size]
    return run.size >= ECHO_CHARS and any(c in quoted for c in CODE_MARKS)


def has_secret(*texts: str) -> bool:
    return any(PRIVACY.redact(t) != t or CREDENTIAL.search(t) for t in texts)


def drop_reason(text: str, reasoning: str, session: str, user_name: str) -> str | None:
    """Why a draft must not be stored; None when it may go on to revise and audit."""
    if has_secret(text, reasoning):
        return "carries a secret or credential"
    if not about_user(text, user_name):
        return f"not about {user_name}"
    if copies_example(text, session, user_name):
        return "copies the worked example"
    if echoes_screen(text, session):
        return "copies the screen"
    if is_generic(text, user_name):
        return "generic"
    return None


def propose(llm: LLM, screened: Screened, user_name: str = "the user") -> Proposals:
    """Drafts for one segment, filtered (see the module docstring); no call for a skipped segment."""
    if screened.action == "skip":
        return Proposals()
    session, removed = session_text(screened.segment.observations, user_name)
    messages = propose_messages(session, user_name, merely_seen=screened.action == "low_information")
    drafts = llm.complete_json(messages, Drafts, max_tokens=output_budget(Drafts))
    out = Proposals(neutralised=removed, session=session)
    for d in drafts.propositions:
        if d.basis == "only saw":
            out.dropped.append(Dropped(d.text, "only seen, not done"))
            continue
        if reason := drop_reason(d.text, d.reasoning, session, user_name):
            out.dropped.append(Dropped(d.text, reason))
            continue
        out.propositions.append(Proposition(
            text=d.text, reasoning=d.reasoning, confidence=confidence(d.confidence, Support()),
            half_life_days=d.half_life_days, source="llm", valid_from=screened.segment.started_at))
    return out
