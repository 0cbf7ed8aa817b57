"""The privacy filter on its own: canary secrets, exclusions, pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tacitd.memory.types import Observation
from tacitd.observers.privacy import PauseState, PrivacyFilter, PrivacyRules, WindowInfo

CANARIES = {
    "aws_access_key": "AKIAZZCANARY7Q2W3E4R",
    "github_token": "ghp_" + "C4n4ry" * 6 + "xy",
    "gitlab_token": "glpat-Canary1234567890abcdef",
    "slack_token": "xoxb-1234567890-canaryslacktoken",
    "openai_key": "sk-proj-CanaryOpenAIKey1234567890abcd",
    "anthropic_key": "sk-ant-api03-CanaryAnthropicKey123456789",
    "google_api_key": "AIza" + "CanaryGoogleKey0123456789abcdefghij",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlY2FuYXJ5",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEcanaryKEYmaterial\n-----END RSA PRIVATE KEY-----",
    "card": "4111 1111 1111 1111",
}


@pytest.mark.parametrize("kind, secret", CANARIES.items())
def test_each_secret_kind_is_redacted(kind, secret):
    out = PrivacyFilter().redact(f"before {secret} after")
    assert out == f"before [REDACTED:{kind}] after"


def test_password_labels_and_user_patterns():
    rules = PrivacyRules(extra_redactions={"employee_id": r"\bEMP-\d{6}\b"})
    out = PrivacyFilter(rules).redact("login ok\npassword: hunter2canary\nbadge EMP-123456")
    assert "hunter2canary" not in out and "[REDACTED:password]" in out and "[REDACTED:employee_id]" in out


def test_numbers_that_fail_luhn_are_kept():
    assert PrivacyFilter().redact("order 1234 5678 9012 3456") == "order 1234 5678 9012 3456"


@pytest.mark.parametrize("app, title, url", [
    ("KeePassXC", "Passwords.kdbx", None),
    ("firefox", "Bank — Mozilla Firefox Private Browsing", None),
    ("Google-chrome", "New Tab - Google Chrome (Incognito)", None),
    ("firefox", "Vault", "https://vault.bitwarden.com/#/login"),
    ("tacit", "tacit — memories", None),
])
def test_default_exclusions_drop_the_observation(app, title, url):
    obs = Observation(observer="window", app=app, window_title=title, url=url, text="secret stuff")
    assert PrivacyFilter().apply(obs) is None


def test_a_url_that_cannot_be_parsed_is_no_error_and_an_excluded_domain_in_it_still_drops_it():
    """urlparse raises on 'http://[' (a push may carry anything): it gave the API a 500."""
    seen = Observation(observer="push", app="notes", url="http://[", text="Draft: Osaka itinerary")
    assert PrivacyFilter().apply(seen) is not None
    vault = Observation(observer="push", app="firefox", url="https://[vault.bitwarden.com/#/login", text="x")
    assert PrivacyFilter().apply(vault) is None


def test_a_visible_excluded_window_drops_the_whole_frame():
    obs = Observation(observer="screen", app="code", window_title="main.py", text="def f(): pass")
    hidden = [WindowInfo(app="1Password", title="1Password", visible=False)]
    shown = [WindowInfo(app="1Password", title="1Password", visible=True)]
    assert PrivacyFilter().apply(obs, hidden) is not None
    assert PrivacyFilter().apply(obs, shown) is None


def test_bad_rules_are_refused_with_the_key():
    with pytest.raises(ValidationError, match="excluded_title_patterns"):
        PrivacyRules(excluded_title_patterns=["(unclosed"])


def test_pause_survives_a_restart_and_expires(tmp_path):
    path = tmp_path / "paused.json"
    PauseState(path).pause(timedelta(minutes=30))
    again = PauseState(path)  # a new process reads the same file
    assert again.paused()
    assert not again.paused(now=datetime.now(UTC) + timedelta(hours=1))
    again.resume()
    assert not PauseState(path).paused()
    path.write_text("{corrupt")
    assert PauseState(path).paused()  # unreadable state fails closed


# -- OCR noise ------------------------------------------------------------------------------------

def test_the_normaliser_joins_split_tokens_and_maps_back_to_the_original():
    from tacitd.observers.ocrnorm import normalise

    text = "bot xoxb-5512 -QpL0vZ8 and 4l11 then x0xb"
    norm = normalise(text)
    assert norm.joined == "bot xoxb-5512-QpL0vZ8 and 4l11 then x0xb"
    start = norm.joined.index("xoxb")
    end = start + len("xoxb-5512-QpL0vZ8")
    assert text[slice(*norm.span(start, end))] == "xoxb-5512 -QpL0vZ8"  # the stray space goes with it
    assert "4111" in norm.folded and norm.folded.endswith("xoxb")  # digits in a number, letters in a word
    assert len(norm.folded) == len(norm.joined)


SLACK = "xoxb-123456789012-5512093847-QpL0vZ8xYk2mN7rT4sWq9eHb"


@pytest.mark.parametrize("seen", [
    SLACK,
    "xoxb-123456789012-5512093847 -QpL0vZ8xYk2mN7rT4sWq9eHb",  # the example: space before a dash
    "xoxb - 123456789012 - 5512093847 - QpLOvZ8xYk2mN7rT4sWq9eHb",  # spaces around every dash, O for 0
    "x0xb-l23456789012-5512093847-QpL0vZ8xYk2mN7rT4sWq9eHb",  # 0 for o in the prefix, l for 1
    "xoxb-123456789012-5512093847-QpL0vZ8\nxYk2mN7rT4sWq9eHb",  # split over two lines
    "xoxb-1234567 89012 55120 93847-QpL0vZ8xYk2m N7rT4sWq9eHb",  # split at spaces, as Tesseract does before 1s
])
def test_a_slack_token_goes_whole_whatever_ocr_did_to_it(seen):
    out = PrivacyFilter().redact(f"deploy bot {seen} done")
    assert out == "deploy bot [REDACTED:slack_token] done"


@pytest.mark.parametrize("line, kept", [
    ("export DB_PASSWORD=s3cr3t-Passw0rd", "export DB_PASSWORD=#"),  # a prefix before the keyword
    ("PGPASSWORD=hunter2canary psql -h db", "PGPASSWORD=#"),  # glued to it, to the end of the line
    ("SECRET_KEY = 'django-insecure-7f#k2'", "SECRET_KEY = #"),
    ("client_id=web client_secret=Zx9y8W7v6U5t", "client_id=web client_secret=#"),
    ('{"user": "sam", "password": "hunter2canary"}', '{"user": "sam", "password": #}'),  # to the closing quote
    ("db:\n  password: hunter2canary", "db:\n  password: #"),
    ("passphrase: correct horse battery staple", "passphrase: #"),  # every word of it
    ("PASSW0RD: hunter2canary", "PASSW0RD: #"),  # O read as 0 in the label
    ("Authorization: Basic ZGVwbG95Omh1bnRlcjJjYW5hcnk=", "Authorization: #"),
    ("card number: 4111 1111 1111 1112", "card number: #"),  # a label needs no Luhn
])
def test_a_labelled_value_goes_to_its_end(line, kept):
    assert PrivacyFilter().redact(line) == kept.replace("#", "[REDACTED:password]")


@pytest.mark.parametrize("text, secret", [
    ("GET /v2/me?access_token=Ab12Cd34Ef56Gh78Ij90&fields=name", "Ab12Cd34Ef56Gh78Ij90"),
    ("DATABASE_URL=postgres://app:Pa55w0rd-x9Q@db.internal:5432/app", "Pa55w0rd-x9Q"),
    ("cache redis://:Qdvp Sf F5PH5nLZjMel @cache:6379/0", "F5PH5nLZjMel"),  # OCR spaces in the password
    ("AccountName=acme;AccountKey=Z Yn9ZhyiA 4uoRgnatm UdjAWtGSU8po+799Nk==;EndpointSuffix=x", "UdjAWtGSU8po"),
    ("hf_" + "aZUZrwpPtuEF BNOfQ5xj7t2ydfOK5uY8iH", "BNOfQ5xj7t2y"),
    ("npm_" + "1wOLaQan8ePsqMgLj2olXCwYjn5zYIKNSSMY", "1wOLaQan8ePs"),
    ("twine pypi-AgEIcHlwaS5vcmc" + "pXz9w3QlY7Zkuvqdt7s8Stq 1qtc4xatws8phP9n", "1qtc4xatws8p"),
    ("mail SG.IMz_Bk4opH1Dr8_h97s-F_.vauP7_L7V21jxUdcfQm9-seB 1qRmUR8AK3R2GgLLT_Z", "1qRmUR8AK3R2"),
    ("POST https://hooks.slack.com/services/T87MTA5VS/B0XEZY3LEX7/BWr2drgd1QsO7jprBGum", "BWr2drgd1QsO"),
    ("stripe sk_live_A 1wxpnujTEBcdkOAQd6dKevH", "1wxpnujTEBcd"),  # cut right after the prefix
    ("openai sk-6hMdZUsrY8DY79tF purb T3BlbkFJOvOwufdRBfLNagbRfbkG", "T3BlbkFJOvOw"),  # a misread word inside
    ("discord M1yGoyMIKcG6cHOCCsLcMd7u,jIDvqV.Oy8Zgq-oDxsonGHixeRGS6Ab2z-", "oDxsonGHixeR"),  # a stray comma
    ("twilio SK5a976238¢ea46739ffea94ee0dc57ad9e", "SK5a976238"),  # a stray ¢, the token found after it
    ("square sqOcsp-bts46h75}-g3960wDeUlb Tr3KI313T_Pji3D M1lw3zQ", "bts46h75"),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGhS4/Fvaf\nhdZxEuhnbzs0z\n-----END PGP PRIVATE KEY BLOCK-----",
     "hdZxEuhnbzs0z"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt\nTptFyfePpX6N", "TptFyfePpX6N"),  # no END line
    ("fingerprint 386bd8773c9d5 1940ea4e095bd 1d6854575622f8 verified", "1940ea4e095bd"),  # unlabelled, split
    ("token ghp_u8jzPdeOlgxLd6Gn\n\ncfBAepfJBdOKh8000L8d", "cfBAepfJBdOK"),  # split over lines, blank between
])
def test_secrets_the_old_rules_let_through(text, secret):
    out = PrivacyFilter().redact(text)
    assert "[REDACTED:" in out
    assert [secret[i:i + 8] for i in range(len(secret) - 7) if secret[i:i + 8] in out] == [], out


@pytest.mark.parametrize("text", [
    "Quarterly report for the Lisbon office",
    "Sprint 42 planning - data platform team: budget review on Thursday at 10:00",
    "/home/sam/projects/atlas/docs/README.md and ~/Downloads/invoice-2024-03.pdf",
    "see getS3BucketPolicyV2Async, base64UrlEncodeString and ISO8601Timestamp",
    "x86_64-linux-gnu python3.11 v1.2.3 2024-01-15T10:30:00Z",
    "Flight LH1234 to AB5678 departs 07:45 from gate 12",
    "order 1234 5678 9012 3456 shipped; call +351 912 345 678",
    "The author: Jane Doe <jane@example.com> wrote 3 tokens of thanks",
])
def test_ordinary_text_survives(text):
    assert PrivacyFilter().redact(text) == text


def test_redacting_twice_changes_nothing():
    privacy = PrivacyFilter()
    text = "password: hunter2 now\nbot xoxb-1234567890-canaryslacktoken\nAuthorization: Bearer abc.def-123456789"
    once = privacy.redact(text)
    assert privacy.redact(once) == once and once.count("[REDACTED:") == 3


# -- exclusions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("app, title", [
    ("xterm", "Passwords.kdbx - KeePassXC"),  # the case: a vault shown by a terminal
    ("kitty", "vim ~/vault/family.kdbx"),
    ("Code", "export.1pif — Visual Studio Code"),
    ("Nautilus", "Personal.agilekeychain"),
    ("firefox", "Bitwarden Web Vault — Mozilla Firefox"),
    ("chromium", "LastPass: Free Password Manager"),
    ("electron", "1Password — Private vault"),
    ("Proton", "Proton Pass"),
    ("osascript", "Keychain Access"),
    ("Dashlane", "Passwords"),
    ("Enpass", "Primary vault"), ("electron", "Enpass"), ("chromium", "NordPass — Vault"),
    ("electron", "KeeWeb"), ("Passwords", "All Passwords"),  # Apple's Passwords app
    ("Brave-browser", "New Tab - Private Window - Brave"), ("brave", "Private Tab - Brave"),
    ("firefox", "Tor Browser"),
])
def test_password_managers_and_vaults_are_excluded_whatever_app_shows_them(app, title):
    assert PrivacyFilter().excluded(app, title)
    assert PrivacyFilter().blocks_frame([WindowInfo(app="Code", title="main.py"), WindowInfo(app=app, title=title)])


def test_ordinary_windows_are_not_excluded():
    for app, title in [("Code", "passwords.py — tacit"), ("xterm", "ssh sam@db — bash"), ("Gedit", "report.md")]:
        assert not PrivacyFilter().excluded(app, title)


@pytest.mark.parametrize("path", [
    "/home/sam/Passwords.kdbx", "/home/sam/Documents/export.1pif", "/home/sam/sync/Vault.agilekeychain/contents.js",
    "/home/sam/.ssh/id_ed25519", "/home/sam/Downloads/Incognito/statement.pdf",
    "/home/sam/Downloads/private-downloads/scan.png", "/home/sam/.config/KeePassXC/keepassxc.ini",
    "/home/sam/.local/share/tacit/tacit.db-wal",  # tacit's own data: never observed back
    "/home/sam/.netrc", "/home/sam/.pgpass", "/home/sam/.git-credentials", "/home/sam/projects/atlas/.env",
    "/home/sam/projects/atlas/.env.production", "/home/sam/.config/google-chrome/Default/Login Data",
    "/home/sam/.mozilla/firefox/x1.default/logins.json", "/home/sam/.mozilla/firefox/x1.default/key4.db",
    "/home/sam/.local/share/keyrings/login.keyring",
])
def test_excluded_paths(path):
    assert PrivacyFilter().excluded_path(path)


def test_ordinary_paths_are_not_excluded():
    for path in ["/home/sam/projects/atlas/README.md", "/home/sam/Downloads/invoice.pdf", "/tmp/notes/passwords.md",
                 "/home/sam/src/tacit/observers/privacy.py", "/home/sam/notes/tacit/ideas.md",  # a folder named tacit
                 "/home/sam/projects/atlas/environment.md", "/home/sam/notes/login data notes.md"]:
        assert not PrivacyFilter().excluded_path(path), path


def test_a_custom_data_dir_is_excluded(tmp_path):
    data = tmp_path / "my-tacit-data"
    privacy = PrivacyFilter(own_data=data)
    assert privacy.excluded_path(data / "tacit.db") and not privacy.excluded_path(tmp_path / "other" / "notes.md")


def test_meta_gets_the_same_redaction_as_text_and_an_excluded_path_drops_the_observation():
    obs = Observation(observer="push", text="deploy", meta={
        "env": {"GITHUB_TOKEN": "ghp_" + "C4n4ry" * 6 + "xy", "region": "eu-west-1"},
        "args": ["--password=hunter2canary", 3], "xoxb-1234567890-canaryslacktoken": True})
    out = PrivacyFilter().apply(obs)
    assert out is not None and "C4n4ry" not in str(out.meta) and "hunter2canary" not in str(out.meta)
    assert "canaryslacktoken" not in str(out.meta)
    assert out.meta["env"]["region"] == "eu-west-1" and out.meta["args"][1] == 3
    vault = Observation(observer="files", text="modified", meta={"path": "/home/sam/Passwords.kdbx"})
    assert PrivacyFilter().apply(vault) is None


def test_a_changed_pause_file_is_read_again(tmp_path):
    path = tmp_path / "paused.json"
    state = PauseState(path)
    assert not state.paused()
    PauseState(path).pause()  # another process pauses
    assert state.paused()
    path.write_text('{"paused": false, "until": null}   ')
    assert not state.paused()
    path.write_text('{"paused": true, "until": "not a time"}')
    assert state.paused()  # a bad time fails closed


PATHOLOGICAL = {  # inputs that once made a rule backtrack or rescan: cost grew with the square of the length
    "letters": lambda n: "".join("abcdefghijklmnopqrstuvwxyz"[(i * 7) % 26] for i in range(n)),
    "one letter": lambda n: "a" * n,
    "letter digit": lambda n: "a1" * (n // 2),
    "dash space": lambda n: "- " * (n // 2),
    "letter dash": lambda n: "a - " * (n // 4),
    "dotted": lambda n: "x." * (n // 2),
    "BEGIN without a key": lambda n: "BEGIN " * (n // 6),
    "schemes": lambda n: "a://" * (n // 4),
    "key blocks without END": lambda n: ("-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 64 + "\n") * (n // 97),
}


@pytest.mark.parametrize("kind", PATHOLOGICAL)
def test_redaction_time_grows_linearly_with_the_text(kind):
    """Ten times the text may cost about ten times the CPU, not a hundred. CPU time of one process,
    so other load on the machine counts little; the best of three on both sides with the collector
    off, because one slow run on a busy CI machine once read as 33x for a rule that is linear."""
    import gc
    import time

    f, make = PrivacyFilter(), PATHOLOGICAL[kind]
    f.redact("warm up AKIAZZCANARY7Q2W3E4R")

    def cost(text: str) -> float:
        gc.collect()
        gc.disable()
        try:
            t0 = time.process_time()
            f.redact(text)
            return time.process_time() - t0
        finally:
            gc.enable()

    small = min(cost(make(4_000)) for _ in range(3))
    large = min(cost(make(40_000)) for _ in range(3))
    assert large / max(small, 1e-3) < 20, (kind, small, large)


@pytest.mark.parametrize("text, secret", [
    ("Paid. 4111 1111 1111 1111", "4111 1111"),  # a card right after a full stop
    ("Card no.4111 1111 1111 1111", "4111 1111"),
    ("“password”: “hunter2hunter2”", "hunter2hunter2"),  # OCR's curly quotes
    ('{"password ": "39KlfwIddNBjTg"}', "39KlfwIddNBjTg"),  # a space inside the quoted key
    ("AKIAJYER9ZE VBVYSDPBS", "VBVYSDPBS"),  # split by OCR, the tail an upper-case 'word'
    ("mail SG.pX8D1k kiid5Y6pV Lcxkepd.9joQwE3kR", "kiid5Y6pV"),  # split four characters after the prefix
    ("Password\nhunter2hunter2", "hunter2hunter2"),  # a form: the label above the value
    ("--password hunter2hunter2", "hunter2hunter2"),
    ("psql --password hunter2hunter2", "hunter2hunter2"),
    ("mysql -u root -psecretpw123", "secretpw123"),
    ("curl -u admin:S3cretPassw0rd https://x", "S3cretPassw0rd"),
    ("<password>hunter2hunter2</password>", "hunter2hunter2"),
    ("Sam's bank password is hunter2hunter2", "hunter2hunter2"),  # prose, a value with a digit
    ("Password | qwertyuiop12asd", "qwertyuiop12asd"), ("password — hunter2hunter2", "hunter2hunter2"),
])
def test_secrets_outside_key_value_labels(text, secret):
    out = PrivacyFilter().redact(text)
    assert "[REDACTED:" in out
    assert [secret[i:i + 8] for i in range(len(secret) - 7) if secret[i:i + 8] in out] == [], out


@pytest.mark.parametrize("text", [
    "Total 3.4111 1111 1111 1111",  # a decimal, not a card after a full stop
    "ls --color=auto -la", "mysql -p", "the token count is 5", "Password reset",
    "The password is required for login", "the token is 5 minutes old",
])
def test_the_new_label_rules_leave_ordinary_text(text):
    assert PrivacyFilter().redact(text) == text


def test_a_meta_value_under_a_secret_key_goes_whole():
    meta = {"password": "hunter2hunter2", "DB_PASSWORD": "abc def ghi", "env": {"client_secret": "x"},
            "tokens_used": 12, "ok": True, "user": "sam"}
    out = PrivacyFilter().redact_json(meta)
    assert out == {"password": "[REDACTED:password]", "DB_PASSWORD": "[REDACTED:password]",
                   "env": {"client_secret": "[REDACTED:password]"}, "tokens_used": 12,
                   "ok": True, "user": "sam"}


@pytest.mark.parametrize("text, secret", [
    ("DB_P}ASSWORD=vFj3dJbFrkkE}7jRA", "vFj3dJbFrkkE"),  # a stray } inside the label and the value
    ("PGP¢ASSWORD=B\\qnyvWnF99a|Q¢qz6", "qnyvWnF99a"),
    ("client_secre}t=sWV7CuMH57TWf6,TU4y7vnNqvRbbk7PR1", "TU4y7vnNqvRb"),
    ("GET /cb?access_toke,n=L0lhdqApF,YvDSlqSWBOv&a=b", "YvDSlqSWBOv"),
    ("google AIzaF4mraxqzwUEawglugXW8X\\lX,OufKQyizXLwe", "OufKQyizXLwe"),
    ("line one\n41¢11 1111 1111 1111\nnext", "1111 1111"),
])
def test_a_stray_character_inside_a_label_or_token_does_not_hide_it(text, secret):
    out = PrivacyFilter().redact(text)
    assert "[REDACTED:" in out
    assert [secret[i:i + 8] for i in range(len(secret) - 7) if secret[i:i + 8] in out] == [], out
