"""Six weeks of Sam's days: dated episodes with their observations, and questions about time.

Each day gets three to five episodes drawn (seeded) from ACTIVITIES, weekday
or weekend, in a morning, afternoon or evening slot. An episode is a
proposition valid only while it happened (valid_from..valid_to), last
supported when it ended, with one or two observations captured during it.
Its text carries no date, as a proposition written from a screen would not:
a question such as "what was Sam doing last Tuesday" can only be answered
from the stored times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

SLOTS = {"morning": (8, 12), "afternoon": (13, 18), "evening": (19, 23)}


@dataclass(frozen=True)
class Activity:
    category: str
    days: str  # "weekday", "weekend" or "any"
    slots: tuple[str, ...]
    text: str
    evidence: str  # app | window title | text
    fill: dict[str, tuple[str, ...]]


PEOPLE = ("Priya", "Tomás", "Hannah", "Lukas", "Beatriz", "Diego", "Mei", "Rui", "Ana", "Kofi")
FRIENDS = ("Ana", "Tomás", "Marta", "Kofi", "Leonor", "Gonçalo")

ACTIVITIES = [
    Activity("review", "weekday", ("afternoon",), "Sam reviewed {person}'s pull request that {pr}",
             "GitHub|Pull request #{n} · acme/dbt-models|{person} wants to merge: {pr}",
             {"pr": ("adds a snapshot for customer addresses", "fixes duplicated rows in fct_orders",
                     "renames the marketing attribution models", "speeds up the sessions incremental model",
                     "adds tests for the refunds staging model", "drops the deprecated legacy_users table")}),
    Activity("debug", "weekday", ("morning", "afternoon"), "Sam spent hours debugging {bug}",
             "kitty|{tool}|{trace}",
             {"bug": ("a timezone bug in the daily revenue report", "a deadlock in the Postgres loader",
                      "missing events in the clickstream ingestion", "an out-of-memory crash in the Spark sessionizer",
                      "a schema drift failure in the Fivetran sync"),
              "tool": ("python -m pdb loader.py", "less /var/log/ingest/worker.log", "spark-submit --verbose"),
              "trace": ("Traceback (most recent call last): KeyError: 'event_ts'", "ERROR deadlock detected",
                        "WARN 1,204 records rejected")}),
    Activity("meeting", "weekday", ("morning", "afternoon"), "Sam met {person} and {person2} to {meeting}",
             "Google Meet|{title}|{person}, {person2}, Sam - 45 min",
             {"meeting": ("plan the Q1 roadmap for the data platform", "agree on the event schema for checkout",
                          "go through the warehouse cost numbers", "decide how to retire the legacy CRM export",
                          "review the on-call runbook"),
              "title": ("Roadmap sync", "Schema review", "Cost review", "CRM export retirement", "Runbook walkthrough")}),
    Activity("design", "weekday", ("morning",), "Sam wrote a design document for {doc}",
             "Google Docs|RFC: {doc}|Context, goals, non-goals, alternatives considered",
             {"doc": ("a streaming ingestion service", "column-level lineage", "a PII tagging policy",
                      "moving dbt runs to Dagster", "a self-serve metrics layer")}),
    Activity("interview", "weekday", ("afternoon",), "Sam interviewed a candidate for the {role} position",
             "Greenhouse|Interview - {role}|Technical round: SQL and data modelling, scorecard due today",
             {"role": ("senior analytics engineer", "data platform engineer", "junior data analyst")}),
    Activity("deploy", "weekday", ("afternoon",), "Sam deployed {service} to production",
             "GitHub|Actions · deploy-{slug}|✓ deploy to prod succeeded in 4m 12s",
             {"service": ("the new ingestion workers", "the Great Expectations checkpoint runner",
                          "the Streamlit KPI dashboard", "the Terraform changes for the transform warehouse"),
              "slug": ("prod",)}),
    Activity("pairing", "weekday", ("morning", "afternoon"), "Sam paired with {junior} on {task}",
             "Tuple|Pairing with {junior}|Screen shared: {task}",
             {"junior": ("Beatriz", "Diego"), "task": ("a backfill of the sessions table", "writing their first dbt macro",
                                                     "profiling a slow Snowflake query", "setting up pre-commit hooks")}),
    Activity("incident", "weekday", ("morning", "afternoon", "evening"), "Sam handled an incident where {incident}",
             "PagerDuty|Incident #{n}|Triggered: {incident}",
             {"incident": ("the nightly load missed its deadline", "the orders dashboard showed zero revenue",
                           "Kafka consumers stopped committing offsets", "a Snowflake warehouse ran out of credits")}),
    Activity("analysis", "weekday", ("morning", "afternoon"), "Sam analysed {analysis} for {team}",
             "Snowsight|{slug}.sql|SELECT ... GROUP BY 1 ORDER BY 2 DESC",
             {"analysis": ("churn by acquisition channel", "basket size before and after the price change",
                           "delivery delays by warehouse region", "the conversion funnel of the new checkout"),
              "team": ("the marketing team", "finance", "the logistics team", "product"),
              "slug": ("analysis_tmp",)}),
    Activity("run", "weekday", ("morning",), "Sam ran {km} km along the river at an easy pace",
             "Garmin Connect|Morning Run|{km}.0 km  avg pace 5:31 /km  Belém",
             {"km": ("5", "6", "8")}),
    Activity("longrun", "weekend", ("morning",), "Sam did a long run of {km} km to Cascais",
             "Strava|Long run|{km} km  elevation 84 m",
             {"km": ("14", "16", "18")}),
    Activity("climb", "any", ("evening",), "Sam went bouldering with {friend} and finally sent a {grade} problem",
             "Instagram|Lisboa Boulder|story: {grade} on the overhang wall",
             {"grade": ("V4", "V5", "pink", "black"), "friend": FRIENDS}),
    Activity("swim", "any", ("morning", "evening"), "Sam swam {n} lengths at the municipal pool",
             "Garmin Connect|Pool Swim|{n} lengths · 25 m pool",
             {"n": ("40", "50", "60")}),
    Activity("vet", "any", ("morning", "afternoon"), "Sam took Pixel to the vet for {reason}",
             "Google Calendar|Vet - Pixel|{reason}, Clínica Veterinária Estrela",
             {"reason": ("a vaccine booster", "a check-up on a swollen paw", "dental cleaning")}),
    Activity("haircut", "any", ("afternoon",), "Sam got a haircut at the barber in Arroios",
             "Fresha|Booking confirmed|Haircut, 30 min, Barbearia Arroios", {}),
    Activity("parcel", "any", ("morning", "afternoon"), "Sam picked up {item} from the post office",
             "CTT|Tracking|Delivered to pickup point: {item}",
             {"item": ("a replacement phone case", "new running shoes", "a box of books", "a keyboard switch tester")}),
    Activity("dinner", "any", ("evening",), "Sam had dinner with {friend} at {place}",
             "WhatsApp|{friend}|see you at {place} at 8!",
             {"friend": FRIENDS, "place": ("a Nepalese place in Martim Moniz", "Taberna da Rua das Flores",
                                          "a ramen bar in Chiado", "a new Georgian restaurant in Anjos")}),
    Activity("concert", "any", ("evening",), "Sam went to a {band} concert at {venue}",
             "Ticketline|E-ticket|{band} · {venue} · doors 21:00",
             {"band": ("Snarky Puppy", "Salvador Sobral", "Khruangbin", "Bonga"),
              "venue": ("Coliseu dos Recreios", "LAV", "Musicbox", "Capitólio")}),
    Activity("coffee", "any", ("morning", "afternoon"), "Sam caught up with {friend} over coffee",
             "Messages|{friend}|coffee at Hello Kristof at 11?", {"friend": FRIENDS}),
    Activity("cook", "any", ("evening",), "Sam cooked {dish} for dinner",
             "Firefox|Recipe: {dish}|Serves 2 · 45 minutes",
             {"dish": ("a mushroom risotto", "a Thai green curry", "bacalhau à Brás", "homemade gyoza",
                       "a lentil and spinach dahl", "shakshuka")}),
    Activity("film", "any", ("evening",), "Sam watched the film {film}",
             "Filmin|{film}|Playing · 1:48:02", {"film": ("Perfect Days", "Past Lives", "Aftersun",
                                                         "Drive My Car", "The Zone of Interest", "Anatomy of a Fall")}),
    Activity("series", "any", ("evening",), "Sam binge-watched {series}",
             "Netflix|{series}|Episode 5 · Next episode in 5s", {"series": ("Shōgun", "The Bear", "Slow Horses",
                                                                         "Severance")}),
    Activity("cleaning", "weekend", ("morning", "afternoon"), "Sam {chore}",
             "Notes|Weekend chores|{chore}", {"chore": ("deep-cleaned the kitchen and descaled the kettle",
                                                       "did the laundry and ironed shirts for the week",
                                                       "fixed the leaking tap in the bathroom",
                                                       "sorted old clothes for donation")}),
    Activity("market", "weekend", ("morning",), "Sam bought {food} at the Saturday market",
             "Notes|Market list|{food}", {"food": ("sardines, clementines and coriander", "chestnuts and pumpkin",
                                                  "sea bass and fresh herbs")}),
    Activity("family", "weekend", ("afternoon",), "Sam {family}",
             "FaceTime|{who}|Call ended", {"family": ("had a long video call with the grandmother",
                                                       "helped João's parents set up their new TV",
                                                       "had lunch with João's family in Almada"),
                                            "who": ("Avó", "Sogros")}),
    Activity("rustcourse", "any", ("evening",), "Sam finished {module} of the Rust course",
             "Firefox|Rust Systems Programming - {module}|Quiz passed 9/10",
             {"module": ("the module on lifetimes", "the module on async I/O", "the chapter on traits",
                         "the unsafe code module")}),
    Activity("piano", "any", ("evening",), "Sam practised {piece} on the piano for an hour",
             "Flowkey|{piece}|Practice session 58 min", {"piece": ("Autumn Leaves", "Gymnopédie No. 1",
                                                                  "a Bill Evans voicing exercise")}),
    Activity("reading", "any", ("evening",), "Sam read about {pages} pages of {book}",
             "Kindle|{book}|{pages} pages this session", {"pages": ("40", "60", "80"),
                                                         "book": ("The Left Hand of Darkness", "Tomorrow, and Tomorrow, and Tomorrow",
                                                                  "The Remains of the Day")}),
    Activity("physio", "weekday", ("morning", "evening"), "Sam had a physiotherapy session for the lower back",
             "Google Calendar|Physio - Clínica Saldanha|Lower back, session {n} of 6", {}),
    Activity("band", "weekday", ("evening",), "Sam rehearsed with the funk band for {gig}",
             "WhatsApp|Funk band 🎸|setlist for {gig} attached", {"gig": ("the December gig at Titanic sur Mer",
                                                                      "a friend's wedding", "the studio recording")}),
    Activity("shopping", "any", ("afternoon",), "Sam ordered {thing} online",
             "Amazon|Order placed|{thing} · arriving Thursday",
             {"thing": ("a new pair of headphones", "a standing desk mat", "a cast iron pan", "winter gloves")}),
    Activity("trip", "weekend", ("morning", "afternoon"), "Sam took the train to {city} for the day",
             "CP - Comboios|Bilhete|Lisboa → {city} · return 19:40", {"city": ("Coimbra", "Évora", "Sintra", "Porto")}),
    Activity("hike", "weekend", ("morning",), "Sam hiked {trail} with friends",
             "AllTrails|{trail}|Recorded 12.1 km", {"trail": ("the Arrábida ridge", "the Sintra hills",
                                                             "the Cabo Espichel cliffs")}),
    Activity("quiz", "weekday", ("evening",), "Sam's pub quiz team came {place} at the Irish pub",
             "WhatsApp|Quiz team 🍀|we came {place}!", {"place": ("second", "first", "fifth")}),
]

# Questions about one kind of episode, without a time: (category, question).
TOPIC_QUESTIONS = [
    ("vet", "when did the cat last see a veterinarian"),
    ("concert", "which live music shows has Sam been to"),
    ("interview", "which job candidates has Sam interviewed recently"),
    ("film", "what movies has Sam watched lately"),
    ("cook", "what has Sam been cooking for dinner"),
    ("incident", "production outages Sam dealt with"),
    ("deploy", "what has Sam shipped to prod recently"),
    ("trip", "day trips out of Lisbon"),
    ("design", "which RFCs has Sam authored"),
    ("pairing", "who has Sam been pairing with"),
    ("physio", "treatment for Sam's back"),
    ("haircut", "when was Sam's last haircut"),
    ("swim", "how often does Sam go swimming"),
    ("quiz", "how did the trivia team do"),
    ("band", "rehearsals with the band"),
    ("rustcourse", "progress on the Rust course"),
    ("dinner", "who has Sam had dinner with recently"),
    ("hike", "recent hikes"),
    ("review", "whose code has Sam reviewed recently"),
    ("analysis", "analyses Sam did for other teams"),
    ("parcel", "parcels Sam collected"),
    ("longrun", "long distance runs at the weekend"),
]

# Questions about a kind of episode inside a window; {w} is the window's phrase.
TOPIC_TIME_QUESTIONS = {
    "review": "whose pull requests did Sam review {w}",
    "run": "did Sam go running {w}",
    "longrun": "how long was Sam's long run {w}",
    "cook": "what did Sam cook {w}",
    "meeting": "who did Sam meet {w}",
    "debug": "what bugs was Sam chasing {w}",
    "film": "which film did Sam watch {w}",
    "dinner": "who did Sam have dinner with {w}",
    "incident": "were there any production incidents {w}",
    "climb": "did Sam go climbing {w}",
    "interview": "who did Sam interview {w}",
    "analysis": "what analysis did Sam do {w}",
    "deploy": "what got deployed {w}",
    "reading": "what was Sam reading {w}",
    "series": "what TV shows did Sam watch {w}",
    "design": "which design docs did Sam write {w}",
    "pairing": "who did Sam pair with {w}",
    "swim": "did Sam swim {w}",
    "concert": "did Sam see any live music {w}",
    "piano": "did Sam practise the piano {w}",
    "coffee": "who did Sam have coffee with {w}",
    "shopping": "what did Sam order online {w}",
    "cleaning": "which chores did Sam do {w}",
    "family": "did Sam see family {w}",
}


@dataclass(frozen=True)
class Episode:
    key: str
    category: str
    text: str
    start: datetime
    end: datetime
    evidence: tuple[tuple[str, str, str, datetime], ...]  # app, title, text, captured_at


def _fill(activity: Activity, rng: random.Random) -> dict[str, str]:
    values = {name: rng.choice(options) for name, options in activity.fill.items()}
    people = rng.sample(PEOPLE, 2)
    values.setdefault("person", people[0])
    values.setdefault("person2", people[1])
    values.setdefault("friend", rng.choice(FRIENDS))
    values.setdefault("n", str(rng.randint(100, 9999)))
    return values


def _day_plan(day: datetime, rng: random.Random) -> list[tuple[Activity, str]]:
    weekend = day.weekday() >= 5
    allowed = [a for a in ACTIVITIES if a.days == "any" or (a.days == "weekend") == weekend]
    chosen: list[tuple[Activity, str]] = []
    used_slots: dict[str, int] = {}
    target = rng.randint(3, 5)
    for activity in rng.sample(allowed, len(allowed)):
        slot = rng.choice(activity.slots)
        if used_slots.get(slot, 0) >= 2 or any(a.category == activity.category for a, _ in chosen):
            continue
        chosen.append((activity, slot))
        used_slots[slot] = used_slots.get(slot, 0) + 1
        if len(chosen) >= target:
            break
    return chosen


def episodes(now: datetime, days: int, rng: random.Random) -> list[Episode]:
    """Episodes on each of the `days` days before `now` (and today up to `now`)."""
    out = []
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(days, -1, -1):
        day = midnight - timedelta(days=back)
        for activity, slot in _day_plan(day, rng):
            lo, hi = SLOTS[slot]
            start = day + timedelta(hours=rng.randint(lo, hi - 2), minutes=rng.choice((0, 15, 30, 45)))
            end = start + timedelta(minutes=rng.choice((45, 60, 90, 120)))
            if end > now:
                continue
            values = _fill(activity, rng)
            app, title, text = activity.evidence.format(**values).split("|")
            seen = start + (end - start) / 2
            evidence = ((app, title, text, seen),)
            key = f"ep-{day:%m%d}-{activity.category}"
            out.append(Episode(key, activity.category, activity.text.format(**values), start, end, evidence))
    return out


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_PARTS = {"morning": (5, 12), "afternoon": (12, 18), "evening": (18, 24)}


def windows(now: datetime) -> dict[str, tuple[datetime, datetime]]:
    """The windows the time questions name, relative to `now` (the labels, not the parser)."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    out = {"today": (today, now), "yesterday": (today - timedelta(days=1), today),
           "this week": (monday, now), "last week": (monday - timedelta(days=7), monday),
           "last weekend": (monday - timedelta(days=2), monday)}
    return out


def time_questions(eps: list[Episode], now: datetime, rng: random.Random) -> list[tuple[str, list[str], str]]:
    """(question, relevant episode keys, kind) for questions that only the stored times can answer."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def keys(lo: datetime, hi: datetime, category: str | None = None) -> list[str]:
        return [e.key for e in eps if lo <= e.end < hi and (category is None or e.category == category)]

    def day(back: int) -> tuple[datetime, datetime]:
        start = today - timedelta(days=back)
        return start, start + timedelta(days=1)

    asked: list[tuple[str, tuple[datetime, datetime]]] = []
    for back in range(1, 8):  # the last seven days by weekday name
        name = _WEEKDAYS[(today - timedelta(days=back)).weekday()]
        phrase = rng.choice(("what was Sam doing last {d}", "what did Sam do on {d}", "what was Sam up to last {d}"))
        asked.append((phrase.format(d=name), day(back)))
    asked.append(("what did Sam do yesterday", day(1)))
    asked.append(("what has Sam been doing today", (today, now)))
    for back in range(2, 13):
        asked.append((f"what was Sam doing {back} days ago", day(back)))
    for back in rng.sample(range(13, 42), 18):
        start, end = day(back)
        form = rng.choice(("what did Sam do on {d} {m}", "what was Sam up to on {m} {d}", "activities on {d} {m}"))
        asked.append((form.format(d=start.day, m=f"{start:%B}"), (start, end)))
    for part in ("morning", "afternoon", "evening"):
        lo, hi = _PARTS[part]
        start = today - timedelta(days=1)
        asked.append((f"what was Sam doing yesterday {part}", (start + timedelta(hours=lo), start + timedelta(hours=hi))))
    for back, part in ((3, "evening"), (4, "morning"), (2, "afternoon")):
        start = today - timedelta(days=back)
        lo, hi = _PARTS[part]
        name = _WEEKDAYS[start.weekday()]
        asked.append((f"what did Sam do on {name} {part}", (start + timedelta(hours=lo), start + timedelta(hours=hi))))
    named = windows(now)
    for phrase in ("this week", "last week", "last weekend"):
        asked.append((f"what did Sam do {phrase}", named[phrase]))
    out = [(q, keys(*w), "time") for q, w in asked]
    spans = [("yesterday", named["yesterday"]), ("this week", named["this week"]),
             ("last week", named["last week"]), ("last weekend", named["last weekend"])]
    spans += [(f"on {_WEEKDAYS[(today - timedelta(days=b)).weekday()]}", day(b)) for b in range(2, 7)]
    topical = [(template.format(w=phrase), keys(*span, category=category), "topic_time")
               for phrase, span in spans for category, template in TOPIC_TIME_QUESTIONS.items()]
    out += rng.sample([q for q in topical if q[1]], 40)
    for category, question in TOPIC_QUESTIONS:
        out.append((question, [e.key for e in eps if e.category == category], "episode"))
    return [q for q in out if q[1]]
