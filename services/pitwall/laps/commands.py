"""Race commands: set up, start, flags, end, the director's edits of the pass log, and
(endurance) pit calls, driver changes and penalty decisions.

Each command is answered on ``race/reply`` (with the command's ``id`` when it had one),
so the web app can tell the director what happened. A command that does not fit the
race is refused with a reason; nothing is changed.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
from paho.mqtt.client import MQTTMessage

from pitwall import contract
from pitwall.backup import archive
from pitwall.core import (
    MS,
    SECOND,
    ControlKind,
    Crossing,
    Entrant,
    Race,
    RaceConfig,
    RaceError,
)
from pitwall.core.types import PaceRules, PitRules, PitSensor
from pitwall.laps import store

if TYPE_CHECKING:
    from pitwall.laps.service import LapService

log = logging.getLogger(__name__)

_CONTROLS = {
    contract.Yellow: ControlKind.YELLOW,
    contract.Green: ControlKind.GREEN,
    contract.Red: ControlKind.RED,
    contract.Finish: ControlKind.FINISH,
    contract.Abort: ControlKind.ABORT,
}

_TEAM_COMMANDS = (contract.PitIn, contract.PitOut, contract.DriverChange,
                  contract.PenaltyDecision)

Out = list[tuple[str, msgspec.Struct]]


def team_control(cmd) -> tuple[ControlKind, int | None, str]:
    """An endurance command as the core's control: (kind, team, value)."""
    if isinstance(cmd, contract.PitIn):
        return ControlKind.PIT_IN, cmd.entrant, ""
    if isinstance(cmd, contract.PitOut):
        return ControlKind.PIT_OUT, cmd.entrant, "" if cmd.kart is None else str(cmd.kart)
    if isinstance(cmd, contract.DriverChange):
        return ControlKind.DRIVER, cmd.entrant, cmd.driver.strip()
    return ControlKind.PENALTY, None, f"{cmd.penalty}={cmd.decision}"


class CommandHandler:
    def __init__(self, service: LapService, rng: random.Random) -> None:
        self.service = service
        self.rng = rng

    def handle(self, msg: MQTTMessage) -> Out:
        svc = self.service
        try:
            cmd = contract.decode_command(msg.payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            svc.counters.count("rejected")
            svc.report(msg.topic, f"bad command: {exc}", msg.payload)
            return []
        name = type(cmd).__struct_config__.tag
        if cmd.id is not None and store.command_seen(cmd.id):
            log.info("command %s (%s) was already processed", cmd.id, name)
            return []
        try:
            self._apply(cmd)
        except RaceError as exc:
            log.info("command %s refused: %s", name, exc)
            return [(svc.topics.race_reply, contract.Reply(
                id=cmd.id, cmd=name, ok=False, error=str(exc), race_id=svc.race_id))]
        log.info("command %s applied to race %s", name, svc.race_id)
        return [(svc.topics.race_reply, contract.Reply(
            id=cmd.id, cmd=name, ok=True, race_id=svc.race_id))]

    def _apply(self, cmd: contract.Command) -> None:
        svc = self.service
        now = svc.clock()
        if isinstance(cmd, contract.Setup):
            self._setup(cmd, now)
        elif isinstance(cmd, contract.Heats):
            svc.heats.create(cmd, now)
        elif isinstance(cmd, contract.Start):
            self.start_race(now)
        elif isinstance(cmd, (contract.Reinstate, contract.Delete)):
            self._edit(cmd.pass_id, "count" if isinstance(cmd, contract.Reinstate) else "ignore")
        elif isinstance(cmd, contract.AddPass):
            self._add_pass(cmd)
        elif isinstance(cmd, contract.MovePass):
            self._move_pass(cmd)
        elif isinstance(cmd, contract.Restore):
            self._restore(now)
        elif isinstance(cmd, _TEAM_COMMANDS):
            kind, entrant, value = team_control(cmd)
            race = self._race()
            race.control(kind, now, entrant, value)
            store.add_control(svc.race_id, race.controls[-1])
        else:
            race = self._race()
            race.control(_CONTROLS[type(cmd)], now)
            store.add_control(svc.race_id, race.controls[-1])

    def _race(self) -> Race:
        if self.service.race is None:
            raise RaceError("no race is set up")
        return self.service.race

    def _setup(self, cmd: contract.Setup, now: int) -> None:
        self.check_replaceable(now)
        self.replace_race(config_from_setup(cmd, self.service.settings), now)

    def _restore(self, now: int) -> None:
        """Accept a staged restore: the service swaps the database after this batch."""
        svc = self.service
        if svc.settings.database_url:
            raise RaceError("restore works on the SQLite database only (PostgreSQL: use "
                            "pg_restore)")
        if not (Path(svc.settings.data_dir) / archive.STAGED).exists():
            raise RaceError("no restore is staged: run 'pitwall backup restore FILE' or "
                            "upload the archive on the maintainer's page")
        self.check_replaceable(now)
        svc.restore_pending = True

    def check_replaceable(self, now: int) -> None:
        """A new race may be set up only before the current one started, or after it."""
        race = self.service.race
        if race is not None:
            phase = race.phase_at(now)
            if phase not in ("ready", "finished", "aborted"):
                raise RaceError(f"a race is {phase}: finish or abort it first")

    def replace_race(self, config: RaceConfig, now: int, event: int | None = None,
                     heat: int | None = None) -> None:
        svc = self.service
        if svc.race is not None and svc.race.phase_at(now) == "ready":
            store.set_phase(svc.race_id, "aborted")  # replaced before it started
        row = store.create_race(config, svc.boot_id, event, heat, setup_ns=now)
        svc.set_race(Race(config), row.id, setup_ns=now)

    def start_race(self, now: int) -> None:
        """The lights: five reds, a random hold, green."""
        svc, race = self.service, self._race()
        defaults = svc.settings.race
        hold_ms = self.rng.randint(defaults.hold_min_ms,
                                   max(defaults.hold_min_ms, defaults.hold_max_ms))
        plan = race.start(now, defaults.start_lead_ms * MS, hold_ms * MS)
        store.save_plan(svc.race_id, plan)

    def _edit(self, pass_id: int, mode: str) -> None:
        """Reinstate or delete a crossing of any race, and re-score that race."""
        race_id = store.race_of_pass(pass_id)
        if race_id is None:
            raise RaceError(f"pass {pass_id} does not belong to a race")
        store.set_override(pass_id, mode)
        self._rescored(race_id, lambda race: race.override(pass_id, mode))

    def _add_pass(self, cmd: contract.AddPass) -> None:
        """A missed crossing, into any race; that race is re-scored."""
        if store.RaceRow.get_or_none(store.RaceRow.id == cmd.race_id) is None:
            raise RaceError(f"there is no race {cmd.race_id}")
        pass_id = store.insert_manual_pass(cmd.race_id, cmd.lane, cmd.car, cmd.t_ns)
        if pass_id is None:
            raise RaceError(f"lane {cmd.lane} already has a crossing at that very time")
        self._rescored(cmd.race_id, lambda race: race.add(
            Crossing(pass_id, cmd.lane, cmd.car, cmd.t_ns)))

    def _move_pass(self, cmd: contract.MovePass) -> None:
        race_id = store.race_of_pass(cmd.pass_id)
        if race_id is None:
            raise RaceError(f"pass {cmd.pass_id} does not belong to a race")
        store.set_corrected(cmd.pass_id, cmd.t_ns)
        self._rescored(race_id, lambda race: race.move(cmd.pass_id, cmd.t_ns))

    def _rescored(self, race_id: int, change) -> None:
        """Apply ``change`` to the live race, or re-score a stored one from its logs (which
        already hold the change); store its laps."""
        svc = self.service
        if race_id != svc.race_id:
            race = Race(*store.load_race_logs(store.RaceRow.get_by_id(race_id)))
            store.rewrite_outcomes(race_id, race.outcomes)
            return
        race, before = svc.race, svc.race.rescores
        out = change(race)
        if race.rescores != before:
            store.rewrite_outcomes(race_id, race.outcomes)  # every outcome, re-scored
        elif out is not None:
            store.record_outcome(race_id, out)  # an added crossing scored in order


def config_from_setup(cmd: contract.Setup, settings) -> RaceConfig:
    defaults = settings.race
    entrant = cmd.entrant or settings.entrant_default
    entrants = []
    endurance = cmd.mode == "endurance"
    for spec in cmd.entrants:
        key = spec.car if entrant == "car" else spec.lane
        if key is None:
            raise RaceError(f"every entrant needs a {entrant} number (races keyed by {entrant})")
        if not endurance and (spec.drivers or spec.kart is not None):
            raise RaceError("teams of drivers and karts are for endurance races")
        entrants.append(Entrant(key, spec.driver, tuple(d.strip() for d in spec.drivers
                                                        if d.strip()), spec.kart))
    if not endurance and (cmd.pit is not None or cmd.spare_karts):
        raise RaceError("pit rules and spare karts are for endurance races")
    return RaceConfig(
        mode=cmd.mode,
        laps=cmd.laps,
        duration_ns=None if cmd.duration_s is None else cmd.duration_s * SECOND,
        entrant=entrant,
        min_lap_ns=(defaults.min_lap_ms if cmd.min_lap_ms is None else cmd.min_lap_ms) * MS,
        first_crossing=cmd.first_crossing or defaults.first_crossing,
        entrants=tuple(entrants),
        yellow_grace_ns=defaults.yellow_grace_ms * MS,
        yellow_clock=defaults.yellow_clock,
        name=cmd.name,
        car_class=cmd.car_class.strip(),
        jump_start_penalty=defaults.jump_start_penalty,
        jump_start_penalty_ns=defaults.jump_start_penalty_ms * MS,
        green_countdown_ns=defaults.green_countdown_ms * MS,
        auto_yellow_factor=defaults.auto_yellow_factor,
        pit_sensors=tuple(PitSensor(s.lane, s.role.removeprefix("pit_"), s.serves)
                          for s in settings.pit_lanes),
        pit=pit_rules(cmd.pit, settings.endurance) if endurance else PitRules(),
        pace=PaceRules(settings.endurance.pace_window, settings.endurance.pace_outlier_mads,
                       settings.endurance.pace_min_laps),
        spare_karts=tuple(cmd.spare_karts),
    )


def pit_rules(spec: contract.PitRulesSpec | None, defaults) -> PitRules:
    """The race's pit rules: the setup's, else the ``[endurance]`` settings."""
    def pick(name):
        value = None if spec is None else getattr(spec, name)
        return getattr(defaults, name) if value is None else value

    return PitRules(
        min_pit_ns=round(pick("min_pit_s") * SECOND),
        min_stint_laps=pick("min_stint_laps"), max_stint_laps=pick("max_stint_laps"),
        min_stint_ns=pick("min_stint_s") * SECOND, max_stint_ns=pick("max_stint_s") * SECOND,
        required_stops=pick("required_stops"), driver_change=pick("driver_change"),
        penalty_ns=round(pick("penalty_s") * SECOND))
