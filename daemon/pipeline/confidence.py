"""Confidence from evidence: how many independent sightings back a claim, not what the model says.

The formula, for a claim with support in `sessions` distinct segments over
`days` distinct days:

    prior = min(model_confidence, single_session_cap)                   (0.5)
    doubt = (1 - prior) * (1 - day_gain) ** (days - 1)                  (day_gain 0.3)
                        * (1 - session_gain) ** (sessions - days)       (session_gain 0.1)
    confidence = min(1 - doubt, unconfirmed_cap)                        (0.95)
    confidence = 1 when the user confirmed it

Why:
- The model's own number is not evidence. The default 1.5B model gave an
  injected claim confidence 1.0 and generic claims "high". One session is
  one episode, and may be a one-off (reading about Osaka once is not
  planning a trip), so one session gives at most `single_session_cap`,
  whatever the model says. A model less sure than the cap is believed:
  lowering costs nothing, raising must be earned.
- Each further independent sighting removes a share of the remaining
  doubt (a noisy-OR: if each sighting alone could mislead, the chance that
  all of them do shrinks geometrically). Confidence rises with diminishing
  returns and never reaches 1 on its own.
- Sessions on one day are correlated (one afternoon, split into segments
  by switching windows), so another day counts three times as much as
  another session on a day already counted.
- Only the user can make it certain: unconfirmed confidence stops at
  `unconfirmed_cap`, and a confirm sets 1.

Resulting values: one session 0.5; two sessions on one day 0.55; two days
0.65; three days with five sessions 0.80; a week of daily sightings 0.94.
"""

from __future__ import annotations

from dataclasses import dataclass

from tacitd.memory.types import Support


@dataclass(frozen=True)
class ConfidenceParams:
    single_session_cap: float = 0.5
    day_gain: float = 0.3
    session_gain: float = 0.1
    unconfirmed_cap: float = 0.95

    def __post_init__(self) -> None:
        for name in ("single_session_cap", "day_gain", "session_gain", "unconfirmed_cap"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")


def confidence(model_confidence: float, support: Support, params: ConfidenceParams = ConfidenceParams()) -> float:
    """The confidence to store for a claim with this support (see the module docstring)."""
    if not 0 <= model_confidence <= 1:
        raise ValueError(f"model confidence {model_confidence} is not between 0 and 1")
    if support.confirmed:
        return 1.0
    days = max(support.days, 1 if support.sessions else 0)
    sessions = max(support.sessions, days)
    prior = min(model_confidence, params.single_session_cap)
    if days == 0:
        return prior
    doubt = (1 - prior) * (1 - params.day_gain) ** (days - 1) * (1 - params.session_gain) ** (sessions - days)
    return round(min(1 - doubt, params.unconfirmed_cap), 4)
