"""Questions that Sam's memory (sam.py) has NO answer to, for judging the context block's relevance floor.

An assistant asks tacit for context on whatever the user is talking about,
most of which tacit knows nothing of. For these questions the honest block
says "Nothing relevant is known."; every line it shows instead is a wrong
line that the assistant may trust.

NEAR: plausible questions about Sam, close to what the memory holds, about
things Sam never did. Many sit next to a hard negative (another person's fact:
"is Sam learning German" beside "Priya is learning German on Duolingo") or
next to one of Sam's facts on the same theme that does not answer them
("does Sam play the violin" beside the piano and the bass guitar). Questions
that one of Sam's facts answers by implication ("does Sam use Emacs": the
main editor is Neovim) are left out on purpose: they are answerable.

FAR: questions about the world, or about Sam but on subjects the memory never
touches (blood type), which an assistant might still pass to tacit.

Each was checked against the propositions and episodes in sam_facts.py,
sam_days.py and sam_noise.py. `queries()` gives them as sam.Query with no
relevant proposition; kinds "none_near" and "none_far", so sam.split()
halves them stratified like the answerable ones.
"""

from __future__ import annotations

from sam import Query

NEAR = (
    "is Sam learning German",
    "does Sam play padel at the weekend",
    "is Sam studying for the Kubernetes CKA exam",
    "does Sam keep bees",
    "is Sam moving to Berlin",
    "does Sam manage the payments team",
    "is Sam on parental leave",
    "does Sam write Go microservices at work",
    "is Sam migrating the warehouse to Databricks",
    "does Sam play the violin",
    "does Sam go skiing in the Alps",
    "is Sam taking salsa dance classes",
    "does Sam do yoga",
    "does Sam play video games on a PlayStation",
    "is Sam planning a trip to Brazil",
    "does Sam ride a motorbike",
    "which football club does Sam support",
    "is Sam building an iOS app in Swift",
    "does Sam brew beer at home",
    "is Sam renovating the kitchen",
    "does Sam go sailing",
    "does Sam play golf",
    "is Sam a member of a rowing club",
    "does Sam collect stamps",
    "is Sam taking driving lessons",
    "does Sam build reports in Power BI",
    "is Sam doing a PhD",
    "does Sam own a 3D printer",
    "does Sam practise martial arts",
    "is Sam learning to paint with watercolours",
    "does Sam sing in a choir",
    "is Sam a Kubernetes administrator",
    "does Sam write a newsletter on Substack",
    "does Sam trade cryptocurrency",
    "is Sam training for a triathlon",
)

FAR = (
    "what is the capital of Peru",
    "how do I change a flat car tyre",
    "recipe for chocolate chip cookies",
    "explain quantum entanglement simply",
    "who won the 1998 football World Cup",
    "how tall is Mount Everest",
    "what is the boiling point of liquid nitrogen",
    "translate good morning into Swahili",
    "what causes the northern lights",
    "how many moons does Jupiter have",
    "how to remove a red wine stain from a carpet",
    "what is the plot of Hamlet",
    "how do volcanoes form",
    "what are the rules of cricket",
    "symptoms of vitamin D deficiency",
    "write a haiku about autumn leaves falling",
    "what does a blockchain validator do",
    "why did the Roman Empire fall",
    "convert 30 degrees Celsius to Fahrenheit",
    "which planet is closest to the sun",
    "how does photosynthesis work",
    "who painted the Mona Lisa",
    "what is the population of Canada",
    "what is Sam's blood type",
    "what is Sam's shoe size",
    "does Sam have a pilot's licence",
    "how do I unclog a kitchen sink",
    "what is the speed of light in a vacuum",
    "best fertiliser for a lawn",
    "how do I reset a forgotten Windows password",
)


def queries() -> list[Query]:
    return ([Query(text, (), "none_near") for text in NEAR]
            + [Query(text, (), "none_far") for text in FAR])
