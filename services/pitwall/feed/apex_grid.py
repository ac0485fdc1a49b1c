"""The feed's grid: the HTML table Apex sends whole on every connection. No I/O.

The header row (``class="head"``) names each column's type in ``data-type`` (``rk``
position, ``no`` kart number, ``dr`` team or driver, ``llp`` last lap, ``blp`` best lap,
``gap``, ``int`` interval, ``otr`` time on track, ``pit`` stops, ``tlp`` laps, ``sta``
status…); every other row is an entrant, ``data-id="rN"``, its cells ``rNcM``. Parsed with
BeautifulSoup (the stdlib's html.parser underneath): the feed's HTML is hand-made and
not always well formed, which a real HTML parser shrugs off and a regular expression
does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Tag

# Column types we understand, and the ones we know but have no use for (sectors, groups,
# nationality…): neither is reported. Anything else is an unknown cell type.
USED_TYPES = frozenset({"sta", "rk", "no", "dr", "llp", "blp", "gap", "int", "otr", "pit",
                        "tlp"})
KNOWN_TYPES = USED_TYPES | frozenset({"grp", "s1", "s2", "s3", "s4", "nat", "ttl", "lap",
                                      "pen", "cat", ""})


class GridError(ValueError):
    """A grid the adapter cannot use (no kart numbers, no rows…); the message says why."""


@dataclass(frozen=True, slots=True)
class Column:
    index: int  # M of the cells' rNcM
    type: str
    title: str


@dataclass(frozen=True, slots=True)
class Cell:
    cls: str  # first style class ("tn", "ti", "tb", "si"…)
    text: str


@dataclass(slots=True)
class GridRow:
    id: str  # "r3021"
    cells: dict[int, Cell] = field(default_factory=dict)  # column index -> cell


@dataclass(slots=True)
class Grid:
    columns: tuple[Column, ...]
    rows: list[GridRow]

    @property
    def layout(self) -> tuple[tuple[int, str], ...]:
        """What identifies the columns: a grid with another layout is another table."""
        return tuple((c.index, c.type) for c in self.columns)

    def column(self, kind: str) -> int | None:
        """The index of the first column of this type, or None."""
        return next((c.index for c in self.columns if c.type == kind), None)

    def type_of(self, index: int) -> str | None:
        return next((c.type for c in self.columns if c.index == index), None)

    @property
    def unknown_types(self) -> list[str]:
        return sorted({c.type for c in self.columns if c.type not in KNOWN_TYPES})


def parse_grid(html: str) -> Grid:
    """The grid's columns and rows. Raises GridError if there is no header row."""
    soup = BeautifulSoup(html, "html.parser")
    head = soup.find("tr", class_="head")
    if not isinstance(head, Tag):
        raise GridError("the grid has no header row (tr class=\"head\")")
    columns = tuple(Column(_index(td, n), str(td.get("data-type", "")).strip(),
                           td.get_text(" ", strip=True))
                    for n, td in enumerate(head.find_all("td", recursive=False), start=1))
    rows = []
    for tr in soup.find_all("tr"):
        if tr is head or not tr.get("data-id"):
            continue
        row = GridRow(str(tr["data-id"]))
        for n, td in enumerate(tr.find_all("td", recursive=False), start=1):
            classes = td.get("class") or [""]
            row.cells[_index(td, n)] = Cell(classes[0], td.get_text(" ", strip=True))
        rows.append(row)
    return Grid(columns, rows)


def _index(td: Tag, position: int) -> int:
    """A cell's column: the ``cM`` its data-id ends with, else its place in the row."""
    data_id = str(td.get("data-id", ""))
    _, sep, tail = data_id.rpartition("c")
    return int(tail) if sep and tail.isdigit() else position


def split_name(text: str) -> tuple[str, str]:
    """A ``dr`` cell as (team, driver): ``"Team [Driver]"`` names both, plain text is the
    team (or a lone driver) with no driver named."""
    text = " ".join(text.split())
    if text.endswith("]") and "[" in text:
        team, _, driver = text[:-1].rpartition("[")
        return team.strip(), driver.strip()
    return text, ""
