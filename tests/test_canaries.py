"""Canary secrets of 50 kinds, shown in real windows, read by real OCR, must not reach the database.

Every secret is a realistic fake: random, in its real format and length. The
screen observer runs for real (Xvfb, Tesseract, a real Store as the sink),
then every 8-character run of every secret is looked for, with whitespace,
case and the letters OCR confuses (O/0, l/I/1) folded alike, in the database
file's raw bytes (with its -wal and -shm; the store is left unencrypted for
this, since encryption would hide a leak from the scan) and in the stored rows. The same
canaries, with OCR-style noise added by hand, also go through the redactor
directly (no X), so a failure there names the kind.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass
from pathlib import Path

import pytest

from tacitd.memory.store import Store
from tacitd.observers.ocr import TesseractReader
from tacitd.observers.platform import X11Desktop
from tacitd.observers.privacy import PrivacyFilter
from tacitd.observers.screen import ScreenObserver
from xdesktop import XServer

B62 = string.ascii_letters + string.digits
B64 = B62 + "+/"
URLSAFE = B62 + "-_"
HEX = "0123456789abcdef"
DIGITS, UPPER = string.digits, string.ascii_uppercase + string.digits
WORDS = ["orbit", "velvet", "cactus", "lantern", "harbor", "quiver", "marble", "tundra", "saffron", "glacier"]
RUN = 8  # no run of this many characters of a secret may be stored


@dataclass(frozen=True)
class Canary:
    kind: str
    lines: tuple[str, ...]  # as shown on screen
    secrets: tuple[str, ...]  # what must not be stored, in any 8-character run


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _group(digits: str, sizes: tuple[int, ...]) -> str:
    out, at = [], 0
    for size in sizes:
        out.append(digits[at:at + size])
        at += size
    return " ".join(out)


def canaries(seed: int = 7) -> list[Canary]:
    rng = random.Random(seed)

    def r(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    def b64url(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def one(kind: str, line: str, secret: str) -> Canary:
        return Canary(kind, (line,), (secret,))

    def key_block(label: str, body: list[str], checksum: tuple[str, ...] = ()) -> Canary:
        return Canary(label.lower().replace(" ", "_"),
                      (f"-----BEGIN {label}-----", *body, *checksum, f"-----END {label}-----"), tuple(body))

    ghp_split = "ghp_" + r(B62, 36)
    pg_pass, redis_pass, basic_pass = r(B62, 16), r(B62, 18), r(B62, 14)
    basic = base64.b64encode(f"deploy:{basic_pass}".encode()).decode()
    jwt = ".".join([b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
                    b64url(json.dumps({"sub": r(string.digits, 10), "name": "Sam", "iat": 1718000000}).encode()),
                    r(URLSAFE, 43)])
    passphrase = " ".join(rng.sample(WORDS, 4))
    slack_bot = "-".join(["xoxb", r(DIGITS, 12), r(DIGITS, 13), r(B62, 24)])
    slack_user = "-".join(["xoxp", r(DIGITS, 11), r(DIGITS, 12), r(DIGITS, 13), r(HEX, 32)])
    webhook = "/".join(["T" + r(UPPER, 8), "B" + r(UPPER, 10), r(B62, 24)])
    slack_split = ["xoxb", r(string.digits, 12), r(string.digits, 13), r(B62, 24)]
    azure = r(B64, 86) + "=="
    pypi = "pypi-AgEIcHlwaS5vcmc" + r(URLSAFE, 90)
    return [
        one("aws_access_key", f"AWS_ACCESS_KEY_ID is {(v := 'AKIA' + r('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16))}", v),
        one("aws_secret_key", f"aws_secret_access_key = {(v := r(B64, 40))}", v),
        one("github_token", f"cloned with {(v := 'ghp_' + r(B62, 36))}", v),
        one("github_pat", f"GH_TOKEN {(v := 'github_pat_' + r(B62, 22) + '_' + r(B62, 59))}", v),
        one("github_oauth", f"oauth {(v := 'gho_' + r(B62, 36))}", v),
        one("gitlab_token", f"remote uses {(v := 'glpat-' + r(URLSAFE, 20))}", v),
        one("slack_bot_token", f"bot {slack_bot}", slack_bot),
        one("slack_user_token", f"user {slack_user}", slack_user),
        one("slack_webhook", f"POST https://hooks.slack.com/services/{webhook}", webhook),
        one("openai_key", f"OPENAI {(v := 'sk-proj-' + r(URLSAFE, 56))}", v),
        one("openai_legacy_key", f"openai.api {(v := 'sk-' + r(B62, 20) + 'T3BlbkFJ' + r(B62, 20))}", v),
        one("anthropic_key", f"claude {(v := 'sk-ant-api03-' + r(URLSAFE, 93) + 'AA')}", v),
        one("google_api_key", f"maps {(v := 'AIza' + r(URLSAFE, 35))}", v),
        one("stripe_secret_key", f"stripe {(v := 'sk_live_' + r(B62, 24))}", v),
        one("stripe_restricted_key", f"reports {(v := 'rk_live_' + r(B62, 24))}", v),
        one("stripe_webhook_secret", f"webhook signing {(v := 'whsec_' + r(B62, 32))}", v),
        one("jwt", f"id token {jwt}", jwt),
        key_block("RSA PRIVATE KEY", ["MIIEow" + r(B64, 58), r(B64, 64), r(B64, 40) + "=="]),
        key_block("OPENSSH PRIVATE KEY", ["b3BlbnNzaC1rZXktdjEAAAAA" + r(B64, 40), r(B64, 64), r(B64, 52)]),
        key_block("PGP PRIVATE KEY BLOCK", ["lQOYBG" + r(B64, 58), r(B64, 64)], ("=" + r(B64, 4),)),
        one("password_label", f"password: {(v := r(B62, 10) + '#' + r(B62, 5))}", v),
        one("db_password", f"export DB_PASSWORD={(v := r(B62, 20))}", v),
        one("pgpassword", f"PGPASSWORD={(v := r(B62, 18))} psql -h db.internal", v),
        one("secret_key", f"SECRET_KEY={(v := 'django-insecure-' + r(B62 + '!@$^&*', 40))}", v),
        one("client_secret", f"client_id=acme-web client_secret={(v := r(URLSAFE, 32))}", v),
        one("access_token_param", f"GET https://api.example.com/v2/me?access_token={(v := r(B62, 40))}&fields=name", v),
        one("json_password", f'{{"user": "sam", "password": "{(v := r(B62, 22))}"}}', v),
        one("yaml_api_key", f"  api_key: {(v := r(HEX, 32))}", v),
        one("passphrase", f"passphrase: {passphrase}", passphrase),
        Canary("postgres_url", (f"DATABASE_URL=postgres://app_user:{pg_pass}@db.example:5432/app",), (pg_pass,)),
        Canary("redis_url", (f"cache redis://:{redis_pass}@cache.example:6379/0",), (redis_pass,)),
        Canary("basic_auth", (f"Authorization: Basic {basic}",), (basic, basic_pass)),
        one("bearer_token", f"Authorization: Bearer {(v := r(URLSAFE, 40))}", v),
        one("huggingface_token", f"HF_HUB {(v := 'hf_' + r(B62, 34))}", v),
        one("npm_token", f"registry {(v := 'npm_' + r(B62, 36))}", v),
        one("pypi_token", f"twine {pypi}", pypi),
        one("sendgrid_key", f"mail {(v := 'SG.' + r(URLSAFE, 22) + '.' + r(URLSAFE, 43))}", v),
        Canary("azure_storage_key", (f"AccountName=acmestore;AccountKey={azure}",), (azure,)),
        one("visa_card", f"Visa {(v := _group(_luhn_complete('4', 16, rng), (4, 4, 4, 4)))}", v),
        one("mastercard", f"Mastercard {(v := _group(_luhn_complete('53', 16, rng), (4, 4, 4, 4)))}", v),
        one("amex_card", f"Amex {(v := _group(_luhn_complete('37', 15, rng), (4, 6, 5)))}", v),
        one("twilio_key", f"twilio {(v := 'SK' + r(HEX, 32))}", v),
        one("telegram_bot_token", f"bot token {(v := r(string.digits, 10) + ':AA' + r(URLSAFE, 33))}", v),
        one("discord_bot_token", f"discord {(v := 'M' + r(B62, 23) + '.' + r(B62, 6) + '.' + r(URLSAFE, 27))}", v),
        one("mailchimp_key", f"mailchimp {(v := r(HEX, 32) + '-us14')}", v),
        one("square_secret", f"square {(v := 'sq0csp-' + r(URLSAFE, 43))}", v),
        one("shopify_token", f"shopify {(v := 'shpat_' + r(HEX, 32))}", v),
        one("digitalocean_token", f"doctl {(v := 'dop_v1_' + r(HEX, 64))}", v),
        Canary("token_split_over_lines", (f"token {ghp_split[:20]}", ghp_split[20:]), (ghp_split,)),
        Canary("token_split_by_spaces", ("slack " + "- ".join(slack_split[:2]) + " -" + "-".join(slack_split[2:]),),
               ("-".join(slack_split),)),
        one("unlabelled_hex", f"fingerprint {(v := r(HEX, 40))} verified", v),
        one("unlabelled_base64", f"nonce {(v := r(B64, 44))} ok", v),
    ]


CANARIES = canaries()
BENIGN = ["Quarterly report for the Lisbon office", "Budget review on Thursday at 10:00",
          "/home/sam/projects/atlas/README.md"]


_FOLD = str.maketrans({"o": "0", "l": "1", "i": "1", "|": "1"})


def ocr_fold(text: str) -> str:
    """What OCR cannot be trusted to keep: whitespace (it splits tokens), case, and O/0, l/I/1/|."""
    return "".join(text.split()).lower().translate(_FOLD)


def leaks(secret: str, haystack: str | bytes) -> list[str]:
    """Every 8-character run of `secret` found in `haystack`, both folded alike (ocr_fold), so a
    secret that OCR changed (`QpL0vZ8` read `Qp L OvZ8`) is found all the same; bytes are decoded
    leniently, so a run inside a database page is found whatever surrounds it."""
    if isinstance(haystack, bytes):
        haystack = haystack.decode("utf-8", errors="replace")
    folded, hay = ocr_fold(secret), ocr_fold(haystack)
    runs = {folded[i:i + RUN] for i in range(len(folded) - RUN + 1)} or {folded}
    return sorted(run for run in runs if run in hay)


def test_the_scan_finds_a_secret_that_ocr_altered():
    secret = "QpL0vZ8xYk2mN7rT"
    assert leaks(secret, "bot Qp LOvZ8 xYk 2mN7 rT") != []  # split and O for 0: still a leak
    assert leaks(secret, "db page \xff\x00QPL0VZ8X".encode("latin-1")) != []  # bytes, case lost
    assert leaks(secret, "nothing of it here: QpL0vZ8") == []  # a run shorter than 8 is not one


def ocr_noise(line: str) -> str:
    """What Tesseract does to a line: spaces around dashes, O for 0 and l for 1 (deterministically)."""
    return line.replace("-", " - ", 2).replace("0", "O").replace("1", "l")


def test_there_are_at_least_forty_kinds_of_realistic_secret():
    assert len({c.kind for c in CANARIES}) == len(CANARIES) >= 40
    assert all(len(s) >= 10 for c in CANARIES for s in c.secrets)


@pytest.mark.parametrize("canary", CANARIES, ids=lambda c: c.kind)
def test_each_canary_is_redacted_as_written_and_with_ocr_noise(canary):
    privacy = PrivacyFilter()
    for variant in ("\n".join(canary.lines), ocr_noise("\n".join(canary.lines))):
        out = privacy.redact(f"{BENIGN[0]}\n{variant}\n{BENIGN[1]}")
        assert out.startswith(BENIGN[0] + "\n") and out.endswith("\n" + BENIGN[1])
        assert "[REDACTED:" in out
        for secret in canary.secrets:
            for version in (secret, ocr_noise(secret)):
                assert leaks(version, out) == [], f"{canary.kind}: {variant!r} -> {out!r}"


# -- through the real screen: Xvfb, Tesseract, ScreenObserver, Store --------------------------------

PAGE_LINES = 18
FONT = 18


@pytest.fixture(scope="module")
def wide_x():
    server = XServer(width=1600, height=1000)
    yield server
    server.stop()


def pages() -> list[list[str]]:
    lines = [line for c in CANARIES for line in c.lines]
    return [BENIGN[:1] + lines[i:i + PAGE_LINES] for i in range(0, len(lines), PAGE_LINES)]


def db_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


def test_no_canary_reaches_the_database_through_real_ocr(wide_x, tmp_path, monkeypatch):
    monkeypatch.setenv("DISPLAY", wide_x.display_name)
    db = tmp_path / "tacit.db"
    seen: list[str] = []  # what OCR read, before any filter: proves the secrets were on screen and read

    def reader(image):
        text = TesseractReader()(image)
        seen.append(text)
        return text

    desktop = X11Desktop(wide_x.display_name)
    with Store(db, encrypt=False) as store:  # in plain text, so that the byte scan can see a leak
        observer = ScreenObserver(store.add_observation, PrivacyFilter(), reader, desktop)
        for page in pages():
            window = wide_x.show("secrets.txt - Editor", "Gedit", page, width=1580, height=980, font_size=FONT)
            assert observer.observe_frame() is not None
            wide_x.close_window(window)
        rows = [json.dumps([o.text, o.window_title, o.url, o.meta], ensure_ascii=False)
                for o in store.observations(limit=100)]
        store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        raw = db_bytes(db)
    desktop.close()

    ocr = "\n".join(seen)
    read = [c.kind for c in CANARIES if any(leaks(s, ocr) for s in c.secrets)]
    assert len(read) >= 40, f"OCR read too few secrets to test anything: {read}"
    assert BENIGN[0].encode() in raw and any(BENIGN[0] in row for row in rows)  # the scan can find text
    stored = "\n".join(rows)
    leaked = {c.kind: found for c in CANARIES for s in c.secrets if (found := leaks(s, stored) or leaks(s, raw))}
    assert leaked == {}
