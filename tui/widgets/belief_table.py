"""The beliefs list: a DataTable that stays fast at 10,000 rows.

DataTable only draws the rows in view, but after rows are added it measures
every cell of every new row to size auto-width columns (about 1 s for 10,000
rows on a slow core, on the UI thread). Every column here has a width we set,
so that measuring is skipped; the text column takes whatever width is left.
Cells are small objects that render as text and sort by their value, so
sorting by confidence, recency or support reorders rows without rebuilding them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.text import Text
from textual import events
from textual.timer import Timer
from textual.widgets import DataTable

from tacitd.memory.types import Proposition, Support

from ..format import age, confidence_bar, one_line

SortKey = Literal["confidence", "recency", "support"]
SORTS: tuple[SortKey, ...] = ("confidence", "recency", "support")


@dataclass(frozen=True)
class Belief:
    """One row: a proposition, the evidence behind it, and (for a search hit) why it matched."""

    proposition: Proposition
    support: Support | None = None  # unknown for a search hit that is not in the loaded listing
    why: tuple[str, ...] = ()

    @property
    def id(self) -> int:
        assert self.proposition.id is not None
        return self.proposition.id


class Cell:
    """A cell that sorts by `value` and builds its Text only when drawn (DataTable draws the rows in view)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __rich__(self) -> Text:
        return Text(str(self.value), no_wrap=True, overflow="ellipsis")


class ConfidenceCell(Cell):
    def __rich__(self) -> Text:
        return confidence_bar(self.value)


class AgeCell(Cell):
    def __rich__(self) -> Text:
        return Text(age(self.value), justify="right")


class SupportCell(Cell):
    """Sorts confirmed first, then by sessions and days; blank when unknown (a search hit not yet listed)."""

    def __init__(self, support: Support | None):
        super().__init__((False, -1, -1) if support is None else (support.confirmed, support.sessions, support.days))

    def __rich__(self) -> Text:
        confirmed, sessions, days = self.value
        return Text("" if sessions < 0 else f"{sessions}s {days}d" + ("✓" if confirmed else ""), justify="right")


class WhyCell(Cell):
    def __rich__(self) -> Text:
        return Text("; ".join(self.value), style="italic", no_wrap=True, overflow="ellipsis")


FIXED = {"confidence": 14, "source": 6, "age": 5, "support": 8}
WHY_WIDTH = 44
MIN_TEXT = 20
RESORT_AFTER_S = 0.3


def _cells(b: Belief, with_why: bool) -> list[Cell]:
    p = b.proposition
    support = b.support
    if support is not None and p.status == "rejected":  # a later reject outweighs an earlier confirm
        support = support.model_copy(update={"confirmed": False})
    cells = [ConfidenceCell(p.confidence), Cell(one_line(p.text)), Cell(p.source), AgeCell(p.updated_at),
             SupportCell(support)]
    if with_why:
        cells.append(WhyCell(b.why))
    return cells


class BeliefTable(DataTable):
    """Propositions, one per row; Enter selects one (DataTable.RowSelected, row key = its id)."""

    def __init__(self, with_why: bool = False, **kwargs: Any) -> None:
        """`with_why`: a last column says why each row matched (for search hits)."""
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.beliefs: dict[int, Belief] = {}
        self.with_why = with_why
        self.sort_key: SortKey = "confidence"
        self._resort_timer: Timer | None = None

    def on_mount(self) -> None:
        self.add_column("confidence", key="confidence", width=FIXED["confidence"])
        self.add_column("belief", key="text", width=MIN_TEXT)
        self.add_column("source", key="source", width=FIXED["source"])
        self.add_column("age", key="recency", width=FIXED["age"])
        self.add_column("support", key="support", width=FIXED["support"])
        if self.with_why:
            self.add_column("why it matched", key="why", width=WHY_WIDTH)
        self._fit_text_column()

    # -- data --------------------------------------------------------------------

    def show(self, beliefs: Sequence[Belief], keep_order: bool = False) -> None:
        """Replace every row. Search hits keep the daemon's ranking (`keep_order`)."""
        cursor_id = self.current_id
        self.clear()
        self.beliefs = {}
        self.extend(beliefs, resort=False)
        if not keep_order:
            self.resort(keep_cursor=False)
        if cursor_id is not None and cursor_id in self.beliefs:
            self.move_cursor(row=self.get_row_index(str(cursor_id)), animate=False)

    def extend(self, beliefs: Iterable[Belief], resort: bool = True) -> None:
        """Add rows (a later page of the listing), then keep the chosen order."""
        rows, keys = [], []
        for b in beliefs:
            if b.id in self.beliefs:
                continue
            self.beliefs[b.id] = b
            rows.append(_cells(b, self.with_why))
            keys.append(str(b.id))
        for key, row in zip(keys, rows, strict=True):
            self.add_row(*row, key=key)
        if resort:
            self.resort()

    def upsert(self, belief: Belief) -> None:
        """Show a changed proposition in place (an event from the daemon, or feedback given here).

        A new row is sorted in shortly after, once for a burst of events (a
        pipeline batch), not once per row.
        """
        key = str(belief.id)
        if belief.id in self.beliefs:
            self.beliefs[belief.id] = belief
            for column, cell in zip(self.columns, _cells(belief, self.with_why), strict=False):
                self.update_cell(key, column, cell)
        else:
            self.extend([belief], resort=False)
        if not self.with_why and self._resort_timer is None:
            self._resort_timer = self.set_timer(RESORT_AFTER_S, self._resort_later)

    def _resort_later(self) -> None:
        self._resort_timer = None
        self.resort()

    def drop(self, proposition_id: int) -> None:
        """Remove a row (forgotten, or no longer matching the filters)."""
        if self.beliefs.pop(proposition_id, None) is not None:
            self.remove_row(str(proposition_id))

    def resort(self, key: SortKey | None = None, keep_cursor: bool = True) -> None:
        """Order by confidence, recency or support, highest first; the cursor stays on its belief."""
        cursor_id = self.current_id if keep_cursor else None
        self.sort_key = key or self.sort_key
        self.sort(self.sort_key, key=lambda cell: cell.value, reverse=True)
        if cursor_id is not None:
            self.move_cursor(row=self.get_row_index(str(cursor_id)), animate=False, scroll=False)

    def tick(self) -> None:
        """Redraw the rows in view so their ages stay current (DataTable caches what it drew)."""
        self._clear_caches()
        self.refresh()

    @property
    def current_id(self) -> int | None:
        """The id under the cursor, if any row is there."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    @property
    def current(self) -> Belief | None:
        pid = self.current_id
        return None if pid is None else self.beliefs.get(pid)

    # -- layout ------------------------------------------------------------------

    def on_resize(self, _: events.Resize) -> None:
        self._fit_text_column()

    def _fit_text_column(self) -> None:
        """Give the text column every cell the fixed columns leave (2 cells of padding per column)."""
        if "text" not in self.columns:
            return
        fixed = sum(FIXED.values()) + (WHY_WIDTH if self.with_why else 0)
        padding = 2 * self.cell_padding * len(self.columns)
        room = self.size.width - self.styles.scrollbar_size_vertical  # as if the scrollbar shows, so it never jumps
        width = max(MIN_TEXT, room - fixed - padding)
        column = self.columns["text"]  # type: ignore[index]
        if column.width != width:
            column.width = width
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh()

    def _update_dimensions(self, new_rows: Iterable[Any]) -> None:
        """Skip DataTable's per-cell measuring: widths are set, rows are one line (see the module docstring)."""
        super()._update_dimensions(())
