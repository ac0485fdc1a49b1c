"""Race commands: set up, start, flags, end, and the director's edits of the pass log.

Each command is answered on ``race/reply`` (with the command's ``id`` when it had one),
so the web app can tell the director what happened. A command that does not fit the
race is refused with a reason; nothing is changed.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

import msgspec
from paho.mqtt.client import MQTTMessage

from pitwall import contract
from pitwall.core import MS, SECOND, ControlKind, Entrant, Race, RaceConfig, RaceError
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

Out = list[tuple[str, msgspec.Struct]]


class CommandHandler:
    def __init__(self, service: LapService, rng: random.Random) -> None:
        self.service = service
        self.rng = rng

    def handle(self, msg: MQTTMessage) -> Out:
        svc = self.service
        try:
            cmd = contract.decode_command(msg.payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            svc.bus.report_error(msg.topic, f"bad command: {exc}", msg.payload)
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
        elif isinstance(cmd, contract.Start):
            race = self._race()
            defaults = svc.settings.race
            hold_ms = self.rng.randint(defaults.hold_min_ms,
                                       max(defaults.hold_min_ms, defaults.hold_max_ms))
            plan = race.start(now, defaults.start_lead_ms * MS, hold_ms * MS)
            store.save_plan(svc.race_id, plan)
        elif isinstance(cmd, (contract.Reinstate, contract.Delete)):
            self._edit(cmd.pass_id, "count" if isinstance(cmd, contract.Reinstate) else "ignore")
        else:
            race = self._race()
            race.control(_CONTROLS[type(cmd)], now)
            store.add_control(svc.race_id, race.controls[-1])

    def _race(self) -> Race:
        if self.service.race is None:
            raise RaceError("no race is set up")
        return self.service.race

    def _setup(self, cmd: contract.Setup, now: int) -> None:
        svc = self.service
        if svc.race is not None:
            phase = svc.race.phase_at(now)
            if phase not in ("ready", "finished", "aborted"):
                raise RaceError(f"a race is {phase}: finish or abort it first")
        config = config_from_setup(cmd, svc.settings.race)
        if svc.race is not None and svc.race.phase_at(now) == "ready":
            store.set_phase(svc.race_id, "aborted")  # replaced before it started
        row = store.create_race(config, svc.boot_id)
        svc.race, svc.race_id = Race(config), row.id

    def _edit(self, pass_id: int, mode: str) -> None:
        """Reinstate or delete a crossing of any race, and re-score that race."""
        svc = self.service
        race_id = store.race_of_pass(pass_id)
        if race_id is None:
            raise RaceError(f"pass {pass_id} does not belong to a race")
        store.set_override(pass_id, mode)
        if race_id == svc.race_id:
            race = svc.race
            race.override(pass_id, mode)
        else:
            row = store.RaceRow.get_by_id(race_id)
            race = Race(*store.load_race_logs(row))
        store.rewrite_outcomes(race_id, race.outcomes)


def config_from_setup(cmd: contract.Setup, defaults) -> RaceConfig:
    entrant = cmd.entrant or defaults.entrant
    entrants = []
    for spec in cmd.entrants:
        key = spec.car if entrant == "car" else spec.lane
        if key is None:
            raise RaceError(f"every entrant needs a {entrant} number (races keyed by {entrant})")
        entrants.append(Entrant(key, spec.driver))
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
        jump_start_penalty=defaults.jump_start_penalty,
        jump_start_penalty_ns=defaults.jump_start_penalty_ms * MS,
        green_countdown_ns=defaults.green_countdown_ms * MS,
        auto_yellow_factor=defaults.auto_yellow_factor,
    )
