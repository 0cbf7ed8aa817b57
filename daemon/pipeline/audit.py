"""Audit: the last gate before a draft is stored; every decision carries its reason.

Two stages:
1. A cheap screen always runs (word rules, no model): it names the
   sensitive categories a draft touches, among health, religion,
   sexuality, politics, finances and other people's private lives.
   A draft that touches none is kept.
2. A draft that touches one goes to the LLM's contextual-integrity
   question (models/prompts.py, schema-constrained): does remembering
   this serve the user in the context it appeared in? Inferring "Sam is
   interested in politics" from a news page fails it; "Sam is drafting the
   union's newsletter" in their own editor may pass.

Switches (AuditParams): `enabled=False` keeps every draft, though the
screen still names its categories in the reason; `llm_check=False` (or
no model) holds back every sensitive draft rather than store it
unchecked. A check whose output does not fit the schema holds the draft
back too: when unsure, do not remember.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tacitd.memory.types import Proposition
from tacitd.models.errors import SchemaError
from tacitd.models.llm import LLM
from tacitd.models.prompts import IntegrityCheck, audit_messages, output_budget

CATEGORIES: dict[str, re.Pattern[str]] = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in {
    "health": r"\b(health|medical|medic(ine|ation)s?|diagnos\w*|symptoms?|illness|disease|disorder|"
              r"depress\w*|anxiety|therap(y|ist)|psychiatr\w*|prescription|pregnan\w*|cancer|diabetes|"
              r"hiv|adhd|autis\w*|doctor|clinic|hospital|surgery|allerg\w*|disabilit\w*|addict\w*|rehab)\b",
    "religion": r"\b(religio\w*|church|mosque|synagogue|temple|pray(s|ing|er)?|faith|bible|quran|koran|torah|"
                r"christian\w*|muslim|islam\w*|jewish|judaism|hindu\w*|buddhis\w*|atheis\w*|ramadan|"
                r"sermon|spiritual\w*)\b",
    "sexuality": r"\b(sexual\w*|sex|gay|lesbian|bisexual|transgender|trans|queer|lgbt\w*|dating|grindr|"
                 r"tinder|hinge|porn\w*|romantic)\b",
    "politics": r"\b(politic\w*|election\w*|vot(e|es|ing|er)|democrat\w*|republican\w*|labour|tory|"
                r"conservative|liberal|left-wing|right-wing|campaign\w*|protest\w*|activis\w*|petition|"
                r"trade union|partisan|parliament|congress)\b",
    "finances": r"\b(financ\w*|debts?|loans?|mortgage|salary|income|bank(ing)? accounts?|credit (card|score)|"
                r"bankrupt\w*|tax(es)?|invest(s|ed|ing|ments?|ors?)?|stocks?|crypto\w*|bitcoin|savings|payday|overdraft|"
                r"wealth|net worth|pension|budget(ing)? (trouble|problems))\b",
    "other people's private lives": r"\b(wife|husband|partner|girlfriend|boyfriend|spouse|ex|mother|father|"
                                    r"mom|mum|dad|son|daughter|sister|brother|child(ren)?|kids?|"
                                    r"neighbou?r|friend|colleague|boss|divorce\w*|affair|breakup|"
                                    r"funeral|custody)\b",
}.items()}
CheckedBy = Literal["screen", "llm", "off"]


@dataclass(frozen=True)
class AuditParams:
    enabled: bool = True  # False: every draft is kept (the screen still names its categories)
    llm_check: bool = True  # False: sensitive drafts are held back without asking the model


@dataclass(frozen=True)
class AuditDecision:
    keep: bool
    reason: str
    categories: tuple[str, ...] = ()
    checked_by: CheckedBy = "screen"

    @property
    def note(self) -> str:
        """One line for the segment's record."""
        verdict = "kept" if self.keep else "held back"
        return f"audit ({self.checked_by}): {verdict}: {self.reason}"


def sensitive_categories(text: str) -> tuple[str, ...]:
    """The cheap screen: which sensitive categories the text touches, by word rules."""
    return tuple(name for name, pattern in CATEGORIES.items() if pattern.search(text))


def audit(llm: LLM | None, draft: Proposition, params: AuditParams = AuditParams()) -> AuditDecision:
    """Whether `draft` may be stored, and why (see the module docstring)."""
    categories = sensitive_categories(draft.text)
    if not params.enabled:
        touched = f" (touches {', '.join(categories)})" if categories else ""
        return AuditDecision(True, "audit switched off" + touched, categories, "off")
    if not categories:
        return AuditDecision(True, "no sensitive category", categories, "screen")
    names = ", ".join(categories)
    if llm is None or not params.llm_check:
        return AuditDecision(False, f"touches {names}; no model check to clear it", categories, "screen")
    try:
        check = llm.complete_json(audit_messages(draft.text, draft.reasoning, list(categories)), IntegrityCheck,
                                  max_tokens=output_budget(IntegrityCheck))
    except SchemaError as exc:
        return AuditDecision(False, f"touches {names}; the check failed ({exc})", categories, "llm")
    return AuditDecision(check.keep, f"touches {names}; {check.reason} (context: {check.context})",
                         categories, "llm")
