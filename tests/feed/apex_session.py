"""A made-up but realistic Apex Timing endurance session: the track's side of the tests.

``ApexSession`` simulates teams (lap times with noise and the odd spin, pit stops with a
driver change) and renders what an Apex server would send: a snapshot on connection
(``init``, titles, light, clock, the grid's HTML) and one batch of lines per moment
something happens (the clock, the lap, lap count, best lap, positions, gaps, pit in/out).
It also knows the truth the feed's final grid shows, and every lap and stop, so a test can
check Pitwall's results against it.

Its rules are the track's: a team's race ends at its first crossing once the clock has
run out; positions by laps, then the earlier last crossing (then the lower kart number).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# The grid's columns, as a French kart track's Apex page has them (c1, c2, …).
COLUMNS = [("grp", ""), ("sta", ""), ("rk", "Clt"), ("no", "Kart"), ("dr", "Equipe"),
           ("s1", "S1"), ("s2", "S2"), ("llp", "Dernier T."), ("gap", "Ecart"),
           ("int", "Interv."), ("blp", "Meilleur T."), ("otr", "En piste"), ("pit", "Stands"),
           ("tlp", "Tours")]
COL = {kind: i for i, (kind, _) in enumerate(COLUMNS, start=1)}
TEAM_NAMES = ["Les Pistards", "Team Apex Hunters", "Kart'Attack", "Brake Late Club",
              "Scuderia Garage", "Rookies Racing", "Flat Out", "Les Fous du Volant",
              "Pit Lane Heroes", "Chicane Boys", "Slipstream", "Dernier Virage",
              "Team Turbo Mamie", "Les Tortues", "Oversteer", "Grip or Grin", "Red Zone",
              "Full Send", "Les Retardataires", "Box Box Box"]
DRIVERS = ["Ann", "Bob", "Cy", "Di", "Eve", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lou",
           "Max", "Ned", "Oda", "Pia", "Quin", "Rex", "Sam", "Tea", "Ugo", "Val", "Wes",
           "Xia", "Yul", "Zoe"]
KARTS = [7, 12, 21, 3, 44, 18, 9, 31, 5, 27, 14, 38, 2, 50, 11, 23, 16, 42, 8, 33]


@dataclass
class Stop:
    in_ms: int
    out_ms: int
    driver: str  # the next stint's


@dataclass
class Team:
    row: str
    kart: int
    name: str
    drivers: list[str]
    crossings: list[tuple[int, int]] = field(default_factory=list)  # (t_ms, lap_ms)
    stops: list[Stop] = field(default_factory=list)


def fmt_lap(ms: int) -> str:
    minutes, rest = divmod(ms, 60_000)
    return f"{minutes}:{rest // 1000:02d}.{rest % 1000:03d}" if minutes else \
        f"{rest // 1000}.{rest % 1000:03d}"


def fmt_clock(ms: int) -> str:
    s = max(0, ms) // 1000
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ApexSession:
    def __init__(self, teams: int = 6, duration_s: int = 600, seed: int = 7,
                 lap_ms: int = 45_000, stops: int = 1, pit_ms: tuple[int, int] = (25_000,
                                                                                 40_000),
                 title: str = "Endurance 10 min") -> None:
        self.duration_ms = duration_s * 1000
        self.title1, self.title2 = "Karting des Fagnes", title
        self.track = "Karting des Fagnes (1360 m)"
        rng = random.Random(seed)
        self.teams: list[Team] = []
        for i in range(teams):
            drivers = rng.sample(DRIVERS, 3)
            team = Team(f"r{30200 + 17 * i}", KARTS[i], TEAM_NAMES[i], drivers)
            self._simulate(team, rng, lap_ms + rng.randint(-1500, 1500), stops, pit_ms)
            self.teams.append(team)
        self.events = self._events()
        self.frames = self._frames()

    # ------------------------------------------------------------------ the race
    def _simulate(self, team: Team, rng: random.Random, pace: int, stops: int,
                  pit_ms: tuple[int, int]) -> None:
        end = self.duration_ms
        stint = end // (stops + 1)
        planned = [stint * (k + 1) + rng.randint(-stint // 5, stint // 5) for k in range(stops)]
        t, driver = 0, 1
        while True:
            lap = pace + rng.randint(-700, 700) + (rng.randint(4000, 9000)
                                                   if rng.random() < 0.04 else 0)
            t += lap
            team.crossings.append((t, lap))
            if t >= end:
                return
            if planned and t >= planned[0] and t + pace * 2 + pit_ms[1] < end:
                planned.pop(0)
                pit_in = t + pace * 3 // 10 + rng.randint(0, 999)
                pit_out = pit_in + rng.randint(*pit_ms)
                team.stops.append(Stop(pit_in, pit_out, team.drivers[driver % 3]))
                driver += 1
                out_lap = pit_out + pace * 7 // 10 + rng.randint(-300, 300) - t
                t += out_lap
                team.crossings.append((t, out_lap))
                if t >= end:
                    return

    def _events(self) -> list[tuple[int, int, str, Team, object]]:
        """(t_ms, order, kind, team, data), in time order."""
        events = []
        for team in self.teams:
            for n, (t, lap) in enumerate(team.crossings, start=1):
                events.append((t, 1, "lap", team, (n, lap)))
            for stop in team.stops:
                events.append((stop.in_ms, 2, "pit_in", team, stop))
                events.append((stop.out_ms, 2, "pit_out", team, stop))
        events.sort(key=lambda e: (e[0], e[1], e[3].kart))
        return events

    # ------------------------------------------------------------------ the feed
    def _frames(self) -> list[tuple[int, list[tuple[str, Team, object]]]]:
        """(t_ms, what happens) per batch: the start, each moment with events, the clock
        every minute, the chequered flag."""
        moments: dict[int, list] = {0: [("green", None, None)],
                                    self.duration_ms: [("flag", None, None)]}
        for t in range(60_000, self.duration_ms, 60_000):
            moments.setdefault(t, [])
        for t, _, kind, team, data in self.events:
            moments.setdefault(t, []).append((kind, team, data))
        return sorted(moments.items())

    def play(self) -> FeedState:
        return FeedState(self)


@dataclass
class Row:
    team: Team
    laps: int = 0
    last_ms: int | None = None
    best_ms: int | None = None
    last_t: int | None = None
    pits: int = 0
    status: str = "sr"
    driver: str = ""
    stint_start: int = 0
    rank: int = 0
    gap: str = ""


class FeedState:
    """The feed as it plays: ``batch(i)`` renders frame i (and applies it);
    ``snapshot()`` is what a client connecting now receives."""

    def __init__(self, session: ApexSession) -> None:
        self.session = session
        self.rows = {t.row: Row(t, driver=t.drivers[0]) for t in session.teams}
        self.now = -60_000  # before the start
        self.light = "lr"
        self.best: int | None = None
        self.position = 0  # frames applied
        for rank, row in enumerate(self._order(), start=1):
            row.rank = rank

    def _order(self) -> list[Row]:
        return sorted(self.rows.values(), key=lambda r: (
            -r.laps, r.last_t if r.last_t is not None else 0, r.team.kart))

    def _clock_line(self) -> str:
        s = self.session
        if self.now < 0:
            return f"dyn1|text|{fmt_clock(s.duration_ms)}"
        if self.now >= s.duration_ms:
            return "dyn1|text|00:00:00"
        return f"dyn1|countdown|{s.duration_ms - self.now}"

    def batch(self) -> tuple[int, str]:
        """Apply and render the next frame: (t_ms, text)."""
        t, happenings = self.session.frames[self.position]
        self.position += 1
        self.now = t
        lines = []
        crossed = []
        for kind, team, data in happenings:
            if kind == "green":
                self.light = "lg"
                lines.append("light|lg|")
            elif kind == "flag":
                self.light = "lf"
                lines.append("light|lf|")
            elif kind == "lap":
                lines += self._lap(self.rows[team.row], t, *data)
                crossed.append(self.rows[team.row])
            elif kind == "pit_in":
                row = self.rows[team.row]
                row.pits += 1
                row.status = "si"
                lines += [f"{team.row}|*in|0", f"{team.row}c{COL['sta']}|si|",
                          f"{team.row}c{COL['pit']}||{row.pits}"]
            elif kind == "pit_out":
                row = self.rows[team.row]
                row.status, row.driver, row.stint_start = "so", data.driver, t
                lines += [f"{team.row}|*out|0", f"{team.row}c{COL['sta']}|so|",
                          f"{team.row}c{COL['dr']}||{team.name} [{data.driver}]"]
        for rank, row in enumerate(self._order(), start=1):
            if row.rank != rank:
                row.rank = rank
                lines += [f"{row.team.row}|#|{rank}", f"{row.team.row}c{COL['rk']}||{rank}"]
        leader = self._order()[0]
        for row in crossed:
            row.gap = self._gap(row, leader)
            lines.append(f"{row.team.row}c{COL['gap']}||{row.gap}")
        # The batch's own clock leads it, as Apex sends it.
        return t, "\n".join([self._clock_line()] + lines)

    def _lap(self, row: Row, t: int, n: int, lap: int) -> list[str]:
        r = row.team.row
        row.laps, row.last_ms, row.last_t = n, lap, t
        if row.status == "so":
            row.status = "sr"
        personal = row.best_ms is None or lap < row.best_ms
        overall = self.best is None or lap < self.best
        cls = "tb" if overall else "ti" if personal else "tn"
        lines = [f"{r}c{COL['llp']}|{cls}|{fmt_lap(lap)}", f"{r}c{COL['tlp']}||{n}",
                 f"{r}c{COL['otr']}||{fmt_clock(t - row.stint_start)[3:]}"]
        if personal:
            row.best_ms = lap
            lines.append(f"{r}c{COL['blp']}|{cls}|{fmt_lap(lap)}")
        if overall:
            self.best = lap
        return lines

    def _gap(self, row: Row, leader: Row) -> str:
        if row is leader:
            return ""
        if leader.laps > row.laps:
            n = leader.laps - row.laps
            return f"{n} Tour{'s' if n > 1 else ''}"
        leader_t = leader.team.crossings[row.laps - 1][0]
        return f"{(row.last_t - leader_t) / 1000:.3f}"

    @property
    def done(self) -> bool:
        return self.position >= len(self.session.frames)

    def snapshot(self) -> str:
        s = self.session
        head = "".join(f'<td data-id="c{i}" data-type="{kind}" data-pr="1">{title}</td>'
                       for i, (kind, title) in enumerate(COLUMNS, start=1))
        rows = [f'<tr data-id="r0" class="head" data-pos="0">{head}</tr>']
        for row in self._order():
            r = row.team.row
            cells = {
                "grp": ("gs", ""), "sta": (row.status, ""),
                "rk": ("rk", f"<div><p>{row.rank}</p></div>"),
                "no": ("no", f'<div class="no1">{row.team.kart}</div>'),
                "dr": ("dr", f"{row.team.name} [{row.driver}]"),
                "s1": ("tn", ""), "s2": ("tn", ""),
                "llp": ("tn", fmt_lap(row.last_ms) if row.last_ms else ""),
                "gap": ("gap", row.gap), "int": ("int", ""),
                "blp": ("tn", fmt_lap(row.best_ms) if row.best_ms else ""),
                "otr": ("to", ""), "pit": ("in", str(row.pits)), "tlp": ("in", str(row.laps)),
            }
            tds = "".join(f'<td data-id="{r}c{i}" class="{cells[kind][0]}">{cells[kind][1]}</td>'
                          for i, (kind, _) in enumerate(COLUMNS, start=1))
            rows.append(f'<tr data-id="{r}" data-pos="{row.rank}">{tds}</tr>')
        return "\n".join([
            "init|r|",
            "css|no1|border-bottom-color:#e10000 !important; color:#ffffff !important;",
            "effects||", f"title1||{s.title1}", f"title2||{s.title2}",
            f"track||{s.track}", "com||<p>Bienvenue !</p>", f"light|{self.light}|",
            self._clock_line(), "grid||<tbody>" + "".join(rows) + "</tbody>"])

    def final(self) -> list[dict]:
        """The feed's own final grid, in its order."""
        return [{"position": row.rank, "kart": row.team.kart, "team": row.team.name,
                 "laps": row.laps, "last_ms": row.last_ms, "best_ms": row.best_ms,
                 "pits": row.pits} for row in sorted(self.rows.values(), key=lambda r: r.rank)]


def recorded_session(session: ApexSession, t0_ns: int = 5_000_000_000_000,
                     gap_ms: int = 7) -> list[tuple[int, str]]:
    """The session as an archive would hold it: (receive ns, message), the snapshot first,
    each batch received ``gap_ms`` after its time (network latency)."""
    state = session.play()
    out = [(t0_ns - 60_000 * 1_000_000, state.snapshot())]
    while not state.done:
        t, text = state.batch()
        out.append((t0_ns + (t + gap_ms) * 1_000_000, text))
    return out
