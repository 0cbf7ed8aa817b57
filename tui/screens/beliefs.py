"""The main screen: every belief, sortable and filterable, with live search that says why each hit matched."""

from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Label, Select

from tacitd.memory.types import Proposition

from ..actions import BELIEF_BINDINGS, BeliefActions
from ..widgets.belief_table import SORTS, Belief, BeliefTable
from ..widgets.detail_pane import Match
from ..widgets.status_bar import StatusBar
from .detail import DetailScreen

SEARCH_DEBOUNCE_S = 0.25
SEARCH_LIMIT = 50
FIRST_PAGE = 200  # more than a screen holds
AGE_TICK_S = 60.0
DEFAULT_FILTERS: dict[str, Any] = {"status": ("current",), "source": ()}
STATUSES = [("current", "current"), ("rejected", "rejected"), ("superseded", "superseded"), ("all", "all")]
ALL_STATUSES = ("current", "superseded", "rejected")
SOURCES = [("any source", "any"), ("llm", "llm"), ("stats", "stats"), ("user", "user")]


class BeliefsScreen(BeliefActions, Screen[None]):
    """Lists propositions page by page (first paint after one page), and live search results."""

    BINDINGS = [
        Binding("slash", "focus_search", "Search", priority=True),  # see action_focus_search
        Binding("escape", "clear_search", "Clear search", show=False),
        Binding("enter", "open", "Details", show=False),
        *BELIEF_BINDINGS,
        Binding("s", "cycle_sort", "Sort"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.listing: dict[int, Belief] = {}
        self.total = 0
        self.query_text = ""
        self._generation = 0  # bumps on every reload, so pages of an older listing are dropped
        self._listed: dict[str, Any] | None = None  # the filters the listing was fetched with
        self._search_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="toolbar"):
            yield Input(placeholder="search: type to narrow (/ to focus, Esc to clear)", id="search")
            yield Select([(k, k) for k in SORTS], value="confidence", allow_blank=False, id="sort",
                         tooltip="sort by")
            yield Select(STATUSES, value="current", allow_blank=False, id="status")
            yield Select(SOURCES, value="any", allow_blank=False, id="source")
        yield BeliefTable(id="beliefs")
        yield BeliefTable(with_why=True, id="hits")
        yield Label(id="summary")
        yield StatusBar(id="status-bar")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.app.changed.subscribe(self, self._on_changed)
        self.hits.display = False
        self.beliefs.focus()
        self.reload()
        self.set_interval(AGE_TICK_S, lambda: self.table.tick())

    @property
    def table(self) -> BeliefTable:
        """The table in view: search hits while there is a query, else the listing."""
        return self.hits if self.query_text else self.beliefs

    @property
    def beliefs(self) -> BeliefTable:
        return self.query_one("#beliefs", BeliefTable)

    @property
    def hits(self) -> BeliefTable:
        return self.query_one("#hits", BeliefTable)

    # -- the listing ------------------------------------------------------------------

    def filters(self) -> dict[str, Any]:
        status = self.query_one("#status", Select).value
        source = self.query_one("#source", Select).value
        return {"status": ALL_STATUSES if status == "all" else (status,), "source": () if source == "any" else (source,)}

    def reload(self) -> None:
        """Fetch the listing again from the first page (filters changed, or refresh)."""
        self._generation += 1
        self.listing = {}
        self._listed = self.filters()
        self._fetch_page(0, self._generation)
        if self.query_text:
            self._search(self.query_text)

    def _fetch_page(self, offset: int, generation: int) -> None:
        """The first page is small, so the screen fills at once; later pages are larger.

        The very first page was asked for while the app started (TacitApp.prefetch).
        """
        size = FIRST_PAGE if offset == 0 else self.app.page_size
        fetch = partial(self.app.client.recent, size, offset, **self.filters())
        if offset == 0 and (early := self.app.take_prefetched(fetch)) is not None:
            fetch = early.result
        self.app.call(fetch, then=lambda page: self._got_page(page, generation), group="listing")

    def _got_page(self, page: Any, generation: int) -> None:
        if generation != self._generation:
            return
        beliefs = [Belief(item.proposition, item.support) for item in page.items]
        self.total = page.total
        for b in beliefs:
            self.listing[b.id] = b
        if page.offset == 0:
            self.beliefs.show(beliefs)
        else:
            self.beliefs.extend(beliefs)
        next_offset = page.offset + len(page.items)
        if page.items and next_offset < page.total:
            self._fetch_page(next_offset, generation)
        self._summarise()

    def _summarise(self) -> None:
        if self.query_text:
            n = self.hits.row_count
            text = f"{n} {'match' if n == 1 else 'matches'} for “{self.query_text}” (best first; why each matched on the right)"
        else:
            loading = f" (loading {len(self.listing):,}/{self.total:,})" if len(self.listing) < self.total else ""
            text = f"{self.total:,} beliefs{loading} · sorted by {self.beliefs.sort_key}"
        self.query_one("#summary", Label).update(Text(text))

    @on(Select.Changed, "#status, #source")
    def _filters_changed(self) -> None:
        if self.filters() != self._listed:  # Select also reports its first value when mounted
            self.reload()

    @on(Select.Changed, "#sort")
    def _sort_changed(self, event: Select.Changed) -> None:
        if event.value != self.beliefs.sort_key:
            self.beliefs.resort(event.value)  # type: ignore[arg-type]
        self._summarise()

    def action_cycle_sort(self) -> None:
        select = self.query_one("#sort", Select)
        select.value = SORTS[(SORTS.index(select.value) + 1) % len(SORTS)]  # type: ignore[arg-type]

    # -- live search ------------------------------------------------------------------------

    @on(Input.Changed, "#search")
    def _typed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        query = event.value.strip()
        self._search_timer = self.set_timer(SEARCH_DEBOUNCE_S, lambda: self._search(query))

    @on(Input.Submitted, "#search")
    def _submitted(self) -> None:
        self.table.focus()

    def _search(self, query: str) -> None:
        """A query shows the hits table; no query shows the listing again, as it was."""
        self.query_text = query
        if not query:
            self._show_hits(False)
            self._summarise()
            return
        self.app.call(partial(self.app.client.search, query, SEARCH_LIMIT, **self.filters()),
                      then=lambda out: self._got_hits(query, out), group="search", exclusive=True)

    def _got_hits(self, query: str, out: Any) -> None:
        if query != self.query_text:
            return
        # The daemon ranks every candidate; one that matched neither words, meaning nor time (relevance 0)
        # ranks only by confidence and recency, which is not a match: leave it out, so a query narrows.
        self.hits.show([Belief(h.proposition, self.listing[h.proposition.id].support
                               if h.proposition.id in self.listing else None, tuple(h.why))
                        for h in out.results if h.parts.relevance > 0], keep_order=True)
        self._show_hits(True)
        self._summarise()

    def _show_hits(self, show: bool) -> None:
        focused = self.focused in (self.beliefs, self.hits)
        self.hits.display, self.beliefs.display = show, not show
        if focused:
            self.table.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """In the search box '/' is a character to type."""
        if action == "focus_search":
            return self.focused is not self.query_one("#search", Input)
        return True

    def action_focus_search(self) -> None:
        """Keys typed in one burst after '/' (a paste, fast typing) must reach the search box, not the list,
        where 'r' rejected and 'c' confirmed the top belief. The app sends each key to the widget focused when
        the app reads it, and a plain binding runs only as '/' bubbles up from the list, after the app has
        sent the next keys on. So '/' is a priority binding, which the app runs before reading the next key,
        and the focus moves at once (Screen.set_focus), not on the next turn of the loop (Widget.focus)."""
        self.set_focus(self.query_one("#search", Input))

    def action_clear_search(self) -> None:
        search = self.query_one("#search", Input)
        if search.value:
            search.value = ""
        self.table.focus()

    # -- selection and changes ----------------------------------------------------------------

    def selected(self) -> Proposition | None:
        belief = self.table.current
        return belief.proposition if belief else None

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        """The detail of the row under the cursor; from a search hit, with why it matched in full."""
        if (belief := self.table.current) is None:
            return
        match = Match(self.query_text, belief.why) if self.table is self.hits and belief.why else None
        self.app.push_screen(DetailScreen(belief.id, match))

    def _on_changed(self, change: tuple[str, int]) -> None:
        kind, pid = change
        if kind == "forgotten":
            if self.listing.pop(pid, None) is not None:
                self.total -= 1
            self.beliefs.drop(pid)
            self.hits.drop(pid)
            self._summarise()
            return
        self.app.call(self.app.client.get, pid, then=self._got_changed, quiet=True)

    def _got_changed(self, detail: Any) -> None:
        p = detail.proposition
        wanted = self.filters()
        if p.status in wanted["status"] and (not wanted["source"] or p.source in wanted["source"]):
            if p.id not in self.listing:
                self.total += 1
            self.listing[p.id] = Belief(p, detail.support)
            self.beliefs.upsert(self.listing[p.id])
            if p.id in self.hits.beliefs:
                self.hits.upsert(Belief(p, detail.support, self.hits.beliefs[p.id].why))
        else:
            if self.listing.pop(p.id, None) is not None:
                self.total -= 1
            self.beliefs.drop(p.id)
            self.hits.drop(p.id)
        self._summarise()
