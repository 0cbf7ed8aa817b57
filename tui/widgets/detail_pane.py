"""Everything about one proposition: why tacit thinks it, what it saw, how it changed, what you said."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tacitd.memory.types import Feedback, Observation, Proposition, Support

from ..format import confidence_bar, local, one_line

SNIPPET = 240


@dataclass(frozen=True)
class Match:
    """Why a search hit matched: the query and the daemon's reasons (SearchHit.why)."""

    query: str
    why: tuple[str, ...]


class DetailPane(VerticalScroll):
    """Sections: the claim, why it matched the search (opened from a hit), reasoning, evidence, history, feedback."""

    def compose(self):  # type: ignore[no-untyped-def]
        for name in ("claim", "why", "reasoning", "evidence", "history", "feedback"):
            yield Static(id=f"detail-{name}", classes="detail-section")

    def show(self, proposition: Proposition, history: Sequence[Proposition], evidence: Sequence[Observation],
             feedback: Sequence[Feedback], support: Support | None = None, match: Match | None = None) -> None:
        """`match`: the search and its reasons, in full (the hits table has room for only the start)."""
        self.query_one("#detail-claim", Static).update(claim(proposition, support))
        why = self.query_one("#detail-why", Static)
        why.display = match is not None
        if match is not None:
            why.update(section(f"Why it matched “{match.query}”", Text("\n".join(f"• {w}" for w in match.why))))
        self.query_one("#detail-reasoning", Static).update(
            section("Reasoning", Text(proposition.reasoning or "(none given)")))
        self.query_one("#detail-evidence", Static).update(section(f"Evidence ({len(evidence)})",
                                                                   evidence_text(evidence)))
        self.query_one("#detail-history", Static).update(section(f"History ({plural(len(history), 'version')})",
                                                                  history_table(history)))
        self.query_one("#detail-feedback", Static).update(section("Your feedback", feedback_text(feedback)))


def section(title: str, body: Text | Table) -> Group:
    return Group(Text(title, style="bold underline"), body)


def claim(p: Proposition, support: Support | None) -> Group:
    facts = Text.assemble(
        confidence_bar(p.confidence), "  ", (p.source, "bold"), f" · {p.status} · v{p.version} · #{p.id}",
        f" · half-life {p.half_life_days:g} d · since {local(p.valid_from)}",
    )
    if support is not None:
        facts.append(f" · {plural(support.sessions, 'session')} on {plural(support.days, 'day')}")
        if support.confirmed:
            facts.append(" · confirmed", style="green")
    return Group(Text(p.text, style="bold"), facts)


def evidence_text(evidence: Sequence[Observation]) -> Text:
    """Each observation: local capture time, app and window on one line, its text snippet under it."""
    if not evidence:
        return Text("No observations (stated by you, or their text has expired).", style="dim")
    out = Text()
    for o in evidence:
        out.append(f"{local(o.captured_at)}  ", style="cyan")
        out.append(o.app or "?", style="bold")
        if o.window_title:
            out.append(f"  {o.window_title}", style="dim")
        snippet = one_line(o.text)
        out.append("\n    " + (snippet[:SNIPPET] + ("…" if len(snippet) > SNIPPET else "") or "(no text)") + "\n")
    out.rstrip()
    return out


def history_table(history: Sequence[Proposition]) -> Table:
    """Oldest first; each row says what changed from the version before it."""
    table = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
    table.add_column("v", no_wrap=True)
    table.add_column("when (local)", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("what changed", ratio=1)
    previous: Proposition | None = None
    for v in sorted(history, key=lambda h: h.version):
        table.add_row(str(v.version), local(v.created_at), v.source, changes(previous, v))
        previous = v
    return table


def changes(before: Proposition | None, after: Proposition) -> Text:
    if before is None:
        return Text.assemble(("first: ", "dim"), after.text, f" ({after.confidence:.2f})")
    out = Text()
    if before.text != after.text:
        out.append(before.text, style="strike dim")
        out.append(" → ")
        out.append(after.text)
    if abs(before.confidence - after.confidence) >= 0.005:
        out.append(f"{'  ' if out else ''}confidence {before.confidence:.2f} → {after.confidence:.2f}")
    if after.status != "current":
        out.append(f"{'  ' if out else ''}[{after.status}]", style="yellow")
    return out or Text("evidence added", style="dim")


def feedback_text(feedback: Sequence[Feedback]) -> Text:
    if not feedback:
        return Text("None yet. c confirms, r rejects.", style="dim")
    out = Text()
    for f in feedback:
        out.append(f"{local(f.created_at)}  ", style="dim")
        out.append(f"{f.kind}ed", style="green" if f.kind == "confirm" else "red")
        if f.note:
            out.append(f": {f.note}")
        out.append("\n")
    out.rstrip()
    return out


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
