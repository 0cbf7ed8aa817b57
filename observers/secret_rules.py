"""What counts as a secret: detect-secrets' detectors, plus the rules it lacks.

Each detector yields `Hit`s: where a secret starts, and how far to redact
from there (`Mode`), because a detector usually sees only part of an
OCR-mangled secret:
- "token": through the token's characters and its OCR-split continuation;
- "value": after a label (`password:`), to the closing quote or end of line;
- "block": a private-key block, to its END line or the end of the text;
- "exact": just the match (card numbers, URL user:password).

detect-secrets (Yelp) supplies the key formats (AWS, GitHub, GitLab, Slack,
Stripe, Twilio, SendGrid, JWT, private keys...) through its plugins' public
`denylist` patterns, and the entropy measure. The hand rules cover what it
does not: labels with a prefix (`DB_PASSWORD=`) or in quotes, URL
credentials and query tokens, Authorization headers, token prefixes that
must be recognised from a fragment (a token cut in two by OCR), Luhn-checked
card numbers, and unlabelled random-looking strings outside quotes (tokens.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Literal

Mode = Literal["token", "value", "block", "exact"]
TOKEN_CHARS = r"A-Za-z0-9_\-+/=.~%|"  # | is how OCR often reads l or I


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    kind: str
    mode: Mode
    rank: int  # lower wins when hits merge: a specific kind over "password" over "high_entropy"
    anchored: bool = True  # False: found mid-token (by randomness), so it may also reach back


# -- detect-secrets -------------------------------------------------------------------------------

LIBRARY_KINDS = {  # detect-secrets secret_type -> our kind (others: slugified secret_type)
    "AWS Access Key": "aws_access_key", "Azure Storage Account access key": "azure_key",
    "Basic Auth Credentials": "url_credentials", "JSON Web Token": "jwt", "NPM tokens": "npm_token",
    "OpenAI Token": "openai_key", "Private Key": "private_key", "PyPI Token": "pypi_token",
    "SendGrid API Key": "sendgrid_key", "Stripe Access Key": "stripe_key",
}
LIBRARY_SKIPPED = {"Public IP (ipv4)"}  # not a secret


@cache
def library_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(kind, pattern) from every regex detector that detect-secrets ships. Imported on first use."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    out = []
    for secret_type, plugin in sorted(get_mapping_from_secret_type_to_class().items()):
        if not issubclass(plugin, RegexBasedDetector) or secret_type in LIBRARY_SKIPPED:
            continue
        kind = LIBRARY_KINDS.get(secret_type) or re.sub(r"[^a-z0-9]+", "_", secret_type.lower()).strip("_")
        out.extend((kind, pattern) for pattern in plugin().denylist)
    return tuple(out)


WINDOW, OVERLAP = 4096, 512  # some library patterns backtrack (`//.+/:_authToken`): quadratic in a line's length


def windows(text: str) -> Iterator[tuple[int, str]]:
    """(offset, piece): the text in overlapping pieces of bounded length, so a pattern that is
    quadratic in its input costs linear time overall; a secret shorter than OVERLAP is whole in one."""
    if len(text) <= WINDOW:
        yield 0, text
        return
    for at in range(0, len(text) - OVERLAP, WINDOW - OVERLAP):
        yield at, text[at:at + WINDOW]


def library_hits(text: str) -> Iterator[Hit]:
    for base, piece in windows(text):
        for kind, pattern in library_patterns():
            for m in pattern.finditer(piece):
                groups = [i for i in range(1, (pattern.groups or 0) + 1) if m.group(i)]
                start, end = m.span(max(groups, key=lambda i: len(m.group(i)))) if groups else m.span()
                yield Hit(base + start, base + end, kind, "block" if kind == "private_key" else "token", 1)


# -- hand rules -----------------------------------------------------------------------------------

# Token prefixes. A distinctive prefix starts a redaction from its first character, so that a token
# that OCR cut right after it (`sk_live_A 1wxpnu...`) still goes whole; a prefix that could begin an
# ordinary identifier (`npm_config`) needs a longer body. Letters OCR confuses are allowed ([Il1|] for I).
PREFIXES = re.compile("|".join(f"(?P<{kind}>{rx})" for kind, rx in [
    ("anthropic_key", r"sk-ant-[A-Za-z0-9_\-]"),
    ("openai_key", r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]|sk-[A-Za-z0-9]{20,}"),
    ("google_api_key", r"A[Il1|]za[0-9A-Za-z_\-]{8,}"),
    ("github_token", r"gh[pousr]_[A-Za-z0-9]{4,}|github_pat_[A-Za-z0-9_]"),
    ("gitlab_token", r"g[lI1|](?:pat|dt|ft|rt|soat|cbt|imt|ptt|agent|oas)-[A-Za-z0-9_\-]"),
    ("slack_token", r"[xX][oO0][xX][abposreABPOSRE]-[A-Za-z0-9\-]{4,}"),
    ("slack_webhook", r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]"),
    ("stripe_key", r"(?:[rs]k|whsec)_(?:live|test)_[0-9A-Za-z]|whsec_[0-9A-Za-z]{8,}"),
    ("huggingface_token", r"hf_[A-Za-z0-9]{8,}"),
    ("npm_token", r"npm_[A-Za-z0-9]{8,}"),
    ("pypi_token", r"pypi-AgE[A-Za-z0-9_\-]|pypi-[A-Za-z0-9_\-]{16,}"),
    ("sendgrid_key", r"S[G6]\.[A-Za-z0-9_\-]{4,}"),
    ("aws_access_key", r"(?:AKIA|ASIA|ABIA|ACCA)(?:[0-9A-Z]{12,}|(?:[ ]?[0-9A-Z]){15,16}(?![0-9A-Z]))"),
    ("shopify_token", r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{4,}"),
    ("digitalocean_token", r"do[opr]_v1_[a-f0-9]"),
    ("jwt", r"eyJ[A-Za-z0-9_\-]{10,}"),
    ("telegram_bot_token", r"\b\d[\d ]{7,11}:AA(?=[ \t]?[A-Za-z0-9_\-])"),
]))

_KEYWORDS = (r"pass(?:word|wd|phrase|code)|pwd|secret|token|api[_\- ]?key|apikey|access[_\- ]?key"
             r"|auth[_\-]?(?:key|token)|authorization|private[_\- ]?key|credentials?|session[_\- ]?(?:id|key)"
             r"|cookie|cvv|cvc|card[_\- ]?(?:number|no|num)")
# A label: any prefix (DB_PASSWORD, PGPASSWORD, X-Api-Key), a keyword, suffixes only after a separator
# (SECRET_KEY, but not "secretary"), an optional closing quote or bracket, then = : := or =>.
LABEL = re.compile(
    rf"""(?<![\w\-.?&])["']?[\w\-.]*?(?:{_KEYWORDS})s?(?:[_\-.][A-Za-z0-9]+){{0,3}}(?:[ \t]?["'\]])?[ \t]*(?::=|=>|[:=|—–])[ \t]*"""
    r"""(?=\S)""", re.IGNORECASE)
QUERY_PARAM = re.compile(
    r"[?&;](?:access_token|id_token|refresh_token|token|api_?key|key|secret|client_secret|password|sig|signature"
    r"|code|auth)=(?=[^\s&#])", re.IGNORECASE)
# user:password@ in a URL; the password may hold two spaces where OCR split it
URL_CREDENTIALS = re.compile(r"(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{0,40}://([^\s/:@]*:[^\s/@]+(?: [^\s/@]+){0,2}) ?@", re.IGNORECASE)
AZURE = re.compile(r"(?:Account|SharedAccess)Key=(?=\S)|SharedAccessSignature=(?=\S)", re.IGNORECASE)
BEARER = re.compile(r"\bbearer[ \t]+(?=[A-Za-z0-9._~+/\-]{8,})", re.IGNORECASE)
KEY_BLOCK = re.compile(r"(?:(?<![-—–_=~])[-—–_=~]+ ?)?BEGIN[A-Z0-9 ]{0,40}?PRIVATE[ ]*KEY(?:[ ]*BLOCK)?", re.IGNORECASE)
KEY_BLOCK_END = re.compile(r"END[A-Z0-9 ]{0,40}?PRIVATE[ ]*KEY(?:[ ]*BLOCK)?[-—–_=~]*", re.IGNORECASE)
CARD = re.compile(r"(?<![\w])(?<!\d\.)(?:\d[ \-]{0,2}){12,18}\d(?![\w])")


# Labels that are not key=value: prose (`the password is hunter2x`, a value with a digit), a label alone on its line above the value (a form), a command-line flag
# (`--password x`, `mysql -px`, `curl -u user:x`; on the joined text, where `psql --pass` reads
# `psql--pass`) and an XML element.
FORM_LABEL = re.compile(rf"(?im)^[ \t]*(?:{_KEYWORDS})[ \t]*:?[ \t]*\n[ \t]*(?=\S)")
FLAG = re.compile(rf"(?i)(?<!-)--[\w\-]*?(?:{_KEYWORDS})(?:[ \t]+|=)(?=[^\s\-])")
SAID_IS = re.compile(rf"(?i)\b(?:{_KEYWORDS})[ \t]+(?:is|was|:)[ \t]+(?=[^\s]*\d)(?=[{TOKEN_CHARS}]{{6,}})")
MYSQL_P = re.compile(r"(?i)\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]{0,200}?(?<!-)-p(?=[^\s\-])")
CURL_USER = re.compile(r"(?i)\bcurl\b[^\n]{0,200}?(?<!-)(?:-u|--user)[ \t]*[^\s:]+:(?=\S)")
XML_ELEMENT = re.compile(rf"(?i)<[\w\-:]*?(?:{_KEYWORDS})[\w\-]*>([^<\n]+)")
SECRET_NAME = re.compile(rf"(?i)(?:^|[^a-z])(?:{_KEYWORDS})s?(?:[_\-.][a-z0-9]+){{0,3}}$")


def secret_name(name: str) -> bool:
    """A key that names a secret (`password`, `DB_PASSWORD`, `client_secret`): its whole value is one."""
    return bool(SECRET_NAME.search(name.strip()))


def label_hits(text: str) -> Iterator[Hit]:
    for m in LABEL.finditer(text):
        yield Hit(m.end(), m.end(), "password", "value", 2)
    for rx in (FORM_LABEL, FLAG):
        for m in rx.finditer(text):
            yield Hit(m.end(), m.end(), "password", "value", 2)
    for rx in (MYSQL_P, CURL_USER, SAID_IS):
        for m in rx.finditer(text):
            yield Hit(m.end(), m.end(), "password", "token", 2)
    for m in XML_ELEMENT.finditer(text):
        yield Hit(*m.span(1), "password", "exact", 2)


def hand_hits(text: str) -> Iterator[Hit]:
    for m in PREFIXES.finditer(text):
        yield Hit(m.start(), m.end(), m.lastgroup or "token", "token", 1)
    for m in KEY_BLOCK.finditer(text):
        yield Hit(m.start(), m.end(), "private_key", "block", 0)
    for m in URL_CREDENTIALS.finditer(text):
        yield Hit(*m.span(1), "url_credentials", "exact", 1)
    for m in AZURE.finditer(text):
        yield Hit(m.end(), m.end(), "azure_key", "token", 1)
    for m in QUERY_PARAM.finditer(text):
        yield Hit(m.end(), m.end(), "url_token", "token", 2)
    for m in BEARER.finditer(text):
        yield Hit(m.end(), m.end(), "bearer_token", "token", 2)
    yield from label_hits(text)
    yield from card_hits(text)


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_hits(text: str) -> Iterator[Hit]:
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            yield Hit(m.start(), m.end(), "card", "exact", 1)
