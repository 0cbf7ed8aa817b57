"""Screen: viewing is not doing. Adverts, spam, promotional mail and news stay out of proposing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tacitd.daemon.pipeline.screen import noise, screen
from tacitd.daemon.pipeline.segment import SegmentParams, build_segment
from tacitd.memory.types import Observation

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def seg(*frames: dict):
    observations = [Observation(id=i + 1, observer="screen", captured_at=T + timedelta(minutes=i), **f)
                    for i, f in enumerate(frames)]
    return build_segment(observations, SegmentParams())


CRUISE = {"app": "firefox", "url": "https://deals.example.com/cruise", "window_title": "Cruise deals",
          "text": "Sponsored\nCaribbean cruise to the Bahamas: 7 nights from $499\nBook now, limited time offer"}
PROMO = {"app": "thunderbird", "window_title": "Inbox - sam@example.org - Thunderbird",
         "text": "Spring Sale at Outdoor Co.\nNew hiking boots for the season, in every size\n"
                 "Free returns for 60 days on all footwear\nSee the collection online\n"
                 "Our stores are open every day from 9 to 8\nFollow us for more news\n"
                 "You are receiving this because you signed up. Unsubscribe"}
SPAM = {"app": "firefox", "url": "https://prize.example.net", "window_title": "Winner",
        "text": "Congratulations! You have won an iPhone. Claim your prize within 24 hours"}
AD_CARD = {"app": "firefox", "url": "https://www.example-news.org/tech", "window_title": "Tech",
           "text": "Ad\nThe fastest VPN of 2026\nTry it free today"}
NEWS = {"app": "firefox", "url": "https://www.bbc.co.uk/news/world-123", "window_title": "Election results — BBC News",
        "text": "Polls closed at 10pm and counting continues in the marginal seats across the country"}


@pytest.mark.parametrize(("frame", "kind"), [
    (CRUISE, "advert"), (AD_CARD, "advert"), (PROMO, "promotional mail"), (SPAM, "spam")])
def test_a_segment_of_only_noise_is_skipped_with_its_reason(frame, kind):
    decision = screen(seg(frame))
    assert decision.action == "skip"
    assert decision.reason.startswith(f"only {kind}")
    assert decision.noise_ids == (1,)


def test_news_only_read_is_low_information():
    decision = screen(seg(NEWS, {**NEWS, "text": "Turnout was the highest in twenty years"}))
    assert decision.action == "low_information" and "bbc.co.uk" in decision.reason
    assert len(decision.segment.observations) == 2  # kept: the prompt decides what, if anything, it says


def test_noise_frames_are_removed_from_a_segment_that_has_real_work():
    docs = {"app": "firefox", "url": "https://docs.python.org/3/library/asyncio.html", "window_title": "asyncio",
            "text": "asyncio.TaskGroup: an asynchronous context manager holding a group of tasks"}
    ad = {**docs, "text": "Advertisement\nLearn Python fast! 50% off all courses. Buy now"}
    decision = screen(seg(docs, ad, {**docs, "text": "Changed in version 3.12: eager tasks"}))
    assert decision.action == "propose" and decision.noise_ids == (2,)
    assert [o.id for o in decision.segment.observations] == [1, 3]
    assert decision.segment.observation_ids == [1, 2, 3]  # still members: processed with the segment


@pytest.mark.parametrize("frame", [
    # writing code that handles unsubscribes, in an editor
    {"app": "code", "window_title": "mailer.py — newsletter",
     "text": "def unsubscribe(user):\n    # limited time offer emails stop here\n    user.sponsored = False"},
    # writing marketing copy on an editing site
    {"app": "firefox", "url": "https://docs.google.com/document/d/1", "window_title": "Launch copy",
     "text": "Limited time offer: 20% off for early users. Shop now"},
    # a long article with one sponsored line in the sidebar
    {"app": "firefox", "url": "https://stackoverflow.com/q/1", "window_title": "How to use asyncio.gather",
     "text": "\n".join(["Sponsored", *(f"answer line {i} about asyncio.gather and exceptions" for i in range(12))])},
    # a colleague's mail that mentions unsubscribing once
    {"app": "thunderbird", "window_title": "Re: reading group - Thunderbird",
     "text": "Hi Sam, can you unsubscribe me from the reading group list? Thanks, Ana"},
])
def test_doing_and_ordinary_text_is_not_noise(frame):
    assert noise(Observation(observer="screen", **frame)) is None
    assert screen(seg(frame)).action == "propose"


@pytest.mark.parametrize(("frame", "marker"), [
    # a price pitched with a second hint
    ({"app": "firefox", "url": "https://www.sunbreaks.example/madeira", "window_title": "Madeira breaks",
      "text": "Madeira, 4 nights from £289 pp. Limited offer, flights and hotel included"}, "from £289"),
    ({"app": "firefox", "url": "https://shop.example.com/boots", "window_title": "Trail boots",
      "text": "Trail boots, was $180 now $99. While stocks last"}, "was $180"),
    # a page served by an advert network, whatever it says
    ({"app": "firefox", "url": "https://tpc.googlesyndication.com/simgad/123", "window_title": "Advert",
      "text": "The cloud your team deserves. Migrate in a weekend"}, "googlesyndication.com"),
    ({"app": "firefox", "url": "https://ads.example.net/c/991", "window_title": "Cruise",
      "text": "Seven nights in the Caribbean. Ocean views"}, "ads.example.net"),
    # a mailing's footer and one hint
    ({"app": "thunderbird", "window_title": "Inbox — Thunderbird",
      "text": "New arrivals for autumn: wool coats and scarves\nThis email was sent to sam@example.org"},
     "this email was sent to"),
])
def test_pitched_prices_advert_networks_and_mailing_footers_are_noise(frame, marker):
    why = noise(Observation(observer="screen", **frame))
    assert why is not None and why.startswith(("advert", "promotional mail")) and marker.lower() in why.lower()
    assert screen(seg(frame)).action == "skip"


@pytest.mark.parametrize("frame", [
    # the user's own flight search: prices, but no pitch
    {"app": "firefox", "url": "https://www.skyscanner.net/osaka", "window_title": "Flights to Osaka — Skyscanner",
     "text": "London to Osaka Kansai, 12 to 26 March, 2 adults\nCheapest: 612 GBP with Finnair via Helsinki"},
    # a hotel search result: a price per night is one hint, not two
    {"app": "firefox", "url": "https://www.booking.com/searchresults.html?ss=Kyoto", "window_title": "Kyoto hotels",
     "text": "Kyoto: 214 properties found\nRyokan Gion, 3 nights, 14 to 17 March\n€120 per night"},
    # a budget in the user's own document
    {"app": "firefox", "url": "https://docs.google.com/document/d/1x", "window_title": "Q4 grant proposal",
     "text": "Budget: 18,000 EUR, from $5,000 per month of field work. Limited offer from the vendor"},
])
def test_prices_without_a_pitch_and_prices_in_own_work_are_not_noise(frame):
    assert noise(Observation(observer="screen", **frame)) is None
