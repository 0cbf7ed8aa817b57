"""Screen: cheap rules that keep adverts, spam, promotional mail and news out of proposing.

Viewing is not doing. A cruise advert on screen says nothing about the
user, yet a small model turns it into "planning a trip to the Bahamas";
so does a news page into "interested in politics". These rules run
before any model call, on text, title and URL:

- advert, spam, promotional mail: an observation is noise when its
  markers score 2: one phrase that all but names one ("limited time
  offer", "you are receiving this"), two hinting words ("sponsored",
  "unsubscribe"), or an ad label heading a short text (an ad card). One
  hinting word is not enough: a colleague may ask to be unsubscribed.
  A price offered as a pitch ("from $599", "$39 per night", "was £80,
  now £50") is one hint, however many prices the page shows: a shop or a
  search result shows prices too, so it needs a second hint ("limited
  offer", "book now", a mailing's footer). A page served from an advert
  network (doubleclick.net, taboola.com, an ads.* host) is an advert by
  its address alone.
  Noise is removed from the segment; a segment with nothing else is skipped.
- news the user merely read: a segment whose only text is from news sites
  is kept but marked low-information, for the prompt to treat as seen,
  not done (the second screen, in propose).
- text in an editor, IDE, office app or terminal, or on a site where one
  writes (Google Docs, GitHub), is the user's own work: never noise,
  whatever words it uses.
- a segment without text (only window, input or idle records) gives
  durations to stats, and nothing to propose from.

The decision always carries its reason, which the queue records with the segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tacitd.memory.types import Observation, Segment

from .activity import EDITING_HOSTS, app_name, is_doing_app, site

Action = Literal["propose", "low_information", "skip"]

AD_LABEL = re.compile(r"^\s*(sponsored|advertisement|promoted|ad|ads by \w+|paid partnership)\s*[·•:]?\s*$",
                      re.IGNORECASE | re.MULTILINE)
# Phrases that all but name an advert, spam or a mailing (2 points), and words that only hint (1 point).
STRONG: dict[str, tuple[str, ...]] = {
    "advert": ("limited time offer", "limited-time offer", "why this ad", "learn more about this ad",
               "paid partnership"),
    "spam": ("you have won", "you've won", "claim your prize", "claim your reward", "congratulations! you",
             "double your bitcoin", "crypto giveaway", "inheritance fund", "work from home and earn"),
    "promotional mail": ("view this email in your browser", "you are receiving this", "no longer wish to receive",
                         "update your subscription", "manage your email preferences", "this email was sent to",
                         "to stop receiving these emails", "you received this email because"),
}
WEAK: dict[str, tuple[str, ...]] = {
    "advert": ("sponsored", "advertisement", "shop now", "buy now", "order now", "book now", "special offer",
               "free shipping", "deal ends", "sale ends", "lowest price", "% off", "act now", "click here",
               "limited offer", "exclusive offer", "offer ends", "while stocks last", "don't miss", "book today",
               "reserve now", "subscribe now", "sign up today", "start your free trial", "best price guarantee",
               "promo code", "use code"),
    "spam": ("wire transfer", "lottery", "risk-free", "100% free", "verify your account", "earn $"),
    "promotional mail": ("unsubscribe", "view in browser", "email preferences", "opt out"),
}
# A price offered as a pitch: "from $599", "only €39", "$120 per night", "was £80 now £50", "save $200".
_MONEY = r"(?:[$€£¥]\s?\d[\d,.]*|\d[\d,.]*\s?(?:usd|eur|gbp|dollars|euros|pounds))"
PRICE_OFFER = re.compile(
    rf"\b(?:from|only|just|starting at|now|save)\s+{_MONEY}"
    rf"|{_MONEY}\s*(?:per|a|/)\s*(?:person|night|month|year|week|pp)\b"
    rf"|\bwas\s+{_MONEY}",
    re.IGNORECASE)
AD_HOSTS = ("doubleclick.net", "googlesyndication.com", "googleadservices.com", "adservice.google.com",
            "taboola.com", "outbrain.com", "criteo.com", "criteo.net", "adnxs.com", "amazon-adsystem.com",
            "adsrvr.org", "moatads.com", "adform.net", "media.net", "revcontent.com", "mgid.com")
AD_HOST = re.compile(r"^(?:ads?|adserver|adclick|track\.ads?)\.")
NOISE_SCORE = 2
NEWS_HOSTS = (
    "nytimes.com", "washingtonpost.com", "wsj.com", "theguardian.com", "bbc.co.uk", "bbc.com", "cnn.com",
    "foxnews.com", "reuters.com", "apnews.com", "bloomberg.com", "ft.com", "economist.com", "nbcnews.com",
    "cbsnews.com", "abcnews.go.com", "npr.org", "politico.com", "theverge.com", "news.google.com",
    "news.yahoo.com", "huffpost.com", "usatoday.com", "aljazeera.com", "spiegel.de", "lemonde.fr",
    "dailymail.co.uk", "independent.co.uk", "latimes.com", "time.com", "axios.com",
)
NEWS_TITLE = re.compile(r"\b(breaking news|live updates|bbc news|cnn|the guardian|reuters|associated press|"
                        r"fox news|nbc news|headlines)\b", re.IGNORECASE)
SHORT_LINES = 6  # an ad card or a mail teaser is a few lines


@dataclass(frozen=True)
class Screened:
    """A segment after the screen: noise removed from what the model sees, and what to do with it."""

    segment: Segment
    action: Action
    reason: str
    noise_ids: tuple[int, ...] = ()


def _score(text: str, short: bool) -> tuple[int, dict[str, list[str]]]:
    """Points for noise markers (strong 2, weak 1) and the markers found, by kind."""
    lowered = text.lower()
    found: dict[str, list[str]] = {}
    score = 0
    for points, table in ((2, STRONG), (1, WEAK)):
        for kind, markers in table.items():
            hits = [m for m in markers if m in lowered]
            found.setdefault(kind, []).extend(hits)
            score += points * len(hits)
    if short and AD_LABEL.search(text):  # a bare 'Ad' or 'Sponsored' line heading a few lines: an ad card
        found["advert"].append("ad label")
        score += NOISE_SCORE
    if offer := PRICE_OFFER.search(text):  # one point, however many prices: shops and search results show them too
        found["advert"].append(offer.group(0))
        score += 1
    return score, {k: v for k, v in found.items() if v}


def ad_host(url: str | None) -> str | None:
    """The advert network a page was served from, if it was."""
    host = site(url)
    if host and (AD_HOST.match(host) or any(host == h or host.endswith("." + h) for h in AD_HOSTS)):
        return host
    return None


def is_doing(o: Observation) -> bool:
    """Text the user writes (editor, terminal, office app, an editing site) is theirs, not content shown to them."""
    host = site(o.url)
    return is_doing_app(app_name(o)) or any(host == h or host.endswith("." + h) for h in EDITING_HOSTS)


def noise(o: Observation) -> str | None:
    """Why this observation is an advert, spam or promotional mail; None when it is not."""
    if not o.text.strip() or is_doing(o):
        return None
    if host := ad_host(o.url):
        return f"advert (served by {host})"
    short = len([line for line in o.text.splitlines() if line.strip()]) <= SHORT_LINES
    score, hits = _score(f"{o.window_title or ''}\n{o.text}", short)
    if score < NOISE_SCORE:
        return None
    kind = max(hits, key=lambda k: len(hits[k]))
    markers = [m for found in hits.values() for m in found]
    return f"{kind} ({', '.join(repr(m) for m in markers[:3])})"


def news(o: Observation) -> str | None:
    """The news site this observation was read on, if it was one."""
    host = site(o.url)
    if any(host == h or host.endswith("." + h) for h in NEWS_HOSTS):
        return host
    if not host and not is_doing(o) and NEWS_TITLE.search(o.window_title or ""):
        return (o.window_title or "").strip()[:60]
    return None


def screen(segment: Segment) -> Screened:
    """Decide whether a segment is worth a model call; the reason says which rule decided."""
    if not segment.has_text:
        return Screened(segment, "skip", "no text: window, input or idle records only (durations for stats)")
    reasons = {o.id: why for o in segment.observations if o.text.strip() and (why := noise(o))}
    kept = [o for o in segment.observations if o.id not in reasons]
    cleaned = segment.model_copy(update={"observations": kept})
    noise_ids = tuple(sorted(i for i in reasons if i is not None))
    if not cleaned.has_text:
        return Screened(cleaned, "skip", "only " + "; ".join(sorted(set(reasons.values()))), noise_ids)
    sites = {o.id: s for o in kept if o.text.strip() and (s := news(o))}
    if len(sites) == sum(1 for o in kept if o.text.strip()):
        where = ", ".join(sorted(set(sites.values())))
        return Screened(cleaned, "low_information", f"news only read, not acted on ({where})", noise_ids)
    dropped = f"; dropped {len(noise_ids)} noisy observation(s)" if noise_ids else ""
    return Screened(cleaned, "propose", "activity" + dropped, noise_ids)
