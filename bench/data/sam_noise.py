"""Distractors: true-sounding propositions that answer none of the questions.

Five kinds, each built differently so that no single template dominates:
OTHERS, facts about the people around Sam phrased like Sam's own facts (the
hard negatives: "Priya is learning German" against "which language is Sam
studying"); GLIMPSES, things Sam only saw in passing; STATS, weekly usage
figures; TRIVIA, short-lived states of Sam's things; PAST, what used to be true.
"""

from __future__ import annotations

import random

OTHER_PEOPLE = ("Priya", "Tomás", "Hannah", "Lukas", "Beatriz", "Diego", "Mei", "Rui", "Ana", "Kofi",
                "Marta", "Leonor", "Gonçalo", "João", "Inês")

OTHERS = [
    ("{p} prefers {x} as a code editor", ("VS Code", "Emacs", "IntelliJ", "Sublime Text", "Helix")),
    ("{p} is learning {x} on Duolingo", ("German", "Italian", "Korean", "Mandarin", "French")),
    ("{p}'s dog is called {x}", ("Biscoito", "Max", "Nala", "Tofu")),
    ("{p} is training for the {x}", ("Berlin marathon", "Lisbon triathlon", "Porto half marathon")),
    ("{p} drinks {x} every morning", ("double espressos", "matcha lattes", "black coffee", "chai")),
    ("{p} just bought {x}", ("a used Tesla Model 3", "an apartment in Almada", "a ThinkPad X1", "an e-bike")),
    ("{p} is reading {x}", ("'The Phoenix Project'", "'Dune'", "'Sapiens'", "'Staff Engineer'")),
    ("{p} manages the {x} team", ("marketing analytics", "payments", "mobile", "customer support")),
    ("{p} plays {x} at weekends", ("padel", "football", "tennis", "rugby")),
    ("{p} moved to {x} last year", ("Berlin", "Amsterdam", "Madrid", "London")),
    ("{p} uses {x} for personal notes", ("Notion", "Apple Notes", "Evernote", "Logseq")),
    ("{p} is allergic to {x}", ("cats", "shellfish", "pollen", "penicillin")),
    ("{p} works from the office every day", ()),
    ("{p} is on parental leave until {x}", ("January", "March", "the spring")),
    ("{p} gave a talk about {x} at a meetup", ("Kubernetes operators", "feature stores", "GraphQL federation")),
    ("{p} is organising {x}", ("the office Christmas party", "a hackathon", "a charity run")),
    ("{p}'s birthday is in {x}", ("March", "July", "September")),
    ("{p} listens to {x}", ("heavy metal", "podcasts about true crime", "classical music", "K-pop")),
    ("{p} recommends {x} for monitoring", ("Datadog", "Prometheus", "New Relic")),
    ("{p} is a vegan and cooks Indian food", ()),
    ("{p} studies for the {x} exam", ("Google Cloud Data Engineer", "Kubernetes CKA", "Azure Fundamentals")),
    ("{p} travels to {x} in December", ("Brazil", "Cape Verde", "Mozambique", "Iceland")),
    ("{p} keeps bees in the countryside", ()),
    ("{p} maintains the legacy Java billing service", ()),
    ("{p} is writing a thesis on {x}", ("graph neural networks", "urban mobility", "medieval trade")),
]

GLIMPSE_VERBS = ("Sam glanced at", "Sam skimmed", "Sam was copied on an email about", "Sam scrolled past a post about",
                 "Sam had a tab open about", "Sam received a newsletter about", "Sam muted a Slack thread about",
                 "Sam saw a notification about", "Sam briefly read about", "Sam bookmarked an article on")
GLIMPSE_TOPICS = (
    "interest rates in the eurozone", "a new iPhone release", "the city's bike lane expansion", "a vendor demo of a CDP",
    "the company's new travel policy", "a security patch for OpenSSL", "Lisbon rent prices", "a football transfer rumour",
    "the office coffee machine being broken", "a product launch at a competitor", "the quarterly all-hands agenda",
    "changes to the parental leave policy", "a webinar on data governance", "a sale on winter jackets",
    "the weather warning for the weekend", "a recall of a car model", "new features in Slack huddles",
    "a podcast episode about startups", "the building's elevator maintenance", "a strike on the Lisbon metro",
    "a Kubernetes CVE", "a new Netflix documentary", "airline loyalty points expiring", "a charity fun run",
    "the HR survey deadline", "the company's carbon report", "GDPR fines in Ireland", "a Rust 2024 edition blog post",
    "a conference call for papers in Berlin", "the cafeteria menu", "phishing attempts in the finance team",
    "a LinkedIn post about layoffs", "a new museum exhibition", "daylight saving time ending", "the printer on the third floor",
    "a bank app update", "a pharmacy opening nearby", "a crowdfunding campaign for a board game", "electricity prices",
    "the annual fire drill", "a hackathon in Porto", "the Champions League draw", "a new ferry timetable",
    "a cybersecurity awareness quiz", "the expense report deadline", "Black Friday deals on laptops",
    "an outage at a cloud provider", "a new Python release candidate", "a vulnerability in a VPN client",
    "volunteer tree planting", "a street festival in Alfama", "the municipal elections", "a scam SMS about parcels",
)

STATS_APPS = ("Slack", "Firefox", "Neovim", "Snowsight", "Google Meet", "Spotify", "YouTube", "Obsidian", "Linear",
              "WhatsApp", "Figma", "kitty", "Mail", "Notion", "Instagram")

TRIVIA = [
    "Sam's laptop battery health is at 87%", "Sam's phone storage is almost full",
    "Sam has 14 unread newsletters in the inbox", "Sam's parcel from Zalando is delayed",
    "Sam's Netflix subscription renews on the 3rd", "Sam left the charger at the office",
    "Sam's passport expires in 2031", "Sam's car insurance quote arrived by email",
    "Sam's desktop has 63 files on it", "Sam's browser has 41 tabs open",
    "Sam's Wi-Fi router firmware needs an update", "Sam's gym membership card was replaced",
    "Sam's kitchen light bulb burnt out", "Sam's spare keys are with the neighbour",
    "Sam has a dentist reminder email unread", "Sam's umbrella broke in the wind",
    "Sam's headphones need new ear pads", "Sam's plant on the windowsill is wilting",
    "Sam's monthly metro pass was renewed", "Sam's password for the HR portal expires soon",
    "Sam's calendar has three overlapping invites on Monday", "Sam's electricity bill was higher than usual",
    "Sam's running shoes have over 700 km on them", "Sam's laptop stickers are peeling",
    "Sam's external monitor flickers sometimes", "Sam's Spotify Wrapped says the top artist was Bill Evans",
    "Sam's Kindle needs charging", "Sam's bike tyre has a slow puncture",
    "Sam's phone screen has a small crack", "Sam's library book is due next week",
    "Sam's shared drive is 92% full", "Sam's team channel has a new emoji",
    "Sam's old GitHub token was revoked", "Sam's work laptop got a forced OS update",
    "Sam's fridge is making a buzzing noise", "Sam's mailbox key is sticky",
    "Sam's Google Photos storage is nearly used up", "Sam's VPN disconnects every few hours",
    "Sam's favourite mug chipped", "Sam's noise-cancelling setting was turned off",
]

PAST = [
    "Sam used Trello for personal tasks until 2023", "Sam lived in Barcelona for a year during university",
    "Sam's previous job was at a bank in Porto", "Sam played handball as a teenager",
    "Sam used to drink energy drinks during exams", "Sam studied mathematics at the University of Coimbra",
    "Sam had a Nokia 3310 as a first phone", "Sam once worked as a waiter in London for a summer",
    "Sam wrote PHP websites for local shops as a student", "Sam used Windows until 2019",
    "Sam took piano lessons as a child and stopped at twelve", "Sam lived with three flatmates in Graça",
    "Sam used to commute by car before moving closer to work", "Sam did an Erasmus semester in Utrecht",
    "Sam's first programming language was Pascal", "Sam interned at a telecom company",
    "Sam tried veganism for six months in 2021", "Sam ran a small photography blog in 2015",
    "Sam used Evernote for years before moving on", "Sam owned a dog called Bolacha as a kid",
]


def others(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    seen = set()
    while len(out) < n:
        template, options = rng.choice(OTHERS)
        text = template.format(p=rng.choice(OTHER_PEOPLE), x=rng.choice(options) if options else "")
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def glimpses(rng: random.Random, n: int) -> list[str]:
    pairs = [(v, t) for v in GLIMPSE_VERBS for t in GLIMPSE_TOPICS]
    return [f"{v} {t}" for v, t in rng.sample(pairs, n)]


def stats(rng: random.Random, weeks: list[str]) -> list[str]:
    out = []
    for week in weeks:
        for app in rng.sample(STATS_APPS, 8):
            hours = rng.choice(("about an hour", "2 hours", "3.5 hours", "6 hours", "11 hours", "40 minutes"))
            out.append(f"Sam spent {hours} in {app} in the week of {week}")
    return out
