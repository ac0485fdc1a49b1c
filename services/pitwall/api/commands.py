"""Race commands from the web: sent to the lap service over MQTT, answered from its reply.

The API never changes race data itself: the lap service is the one writer. A refusal
(a command that does not fit the race) is 409 with the lap service's reason; no answer
within the timeout is 504.
"""

from __future__ import annotations

import enum
import logging
from typing import Annotated

import msgspec
from litestar import post
from litestar.datastructures import State
from litestar.exceptions import ClientException, HTTPException
from litestar.params import JSONBody, PathParameter

from pitwall import contract
from pitwall.api import race_view
from pitwall.api.bridge import CommandTimeout
from pitwall.laps import store

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0

def body_of(command: type[msgspec.Struct], name: str) -> type[msgspec.Struct]:
    """A request body with a command's fields (one definition of their limits), without the
    wire-only ``cmd`` and ``id``."""
    def default(f):
        if f.default is not msgspec.NODEFAULT:
            return f.default
        if f.default_factory is not msgspec.NODEFAULT:
            return msgspec.field(default_factory=f.default_factory)
        return msgspec.NODEFAULT

    return msgspec.defstruct(
        name, [(f.name, f.type, default(f)) for f in msgspec.structs.fields(command)
               if f.name != "id"], kw_only=True, forbid_unknown_fields=True, module=__name__)


RaceSetup = body_of(contract.Setup, "RaceSetup")  # POST /api/races
EventSetup = body_of(contract.Heats, "EventSetup")  # POST /api/events


class RaceAction(str, enum.Enum):
    start = "start"
    yellow = "yellow"
    green = "green"
    red = "red"
    finish = "finish"
    abort = "abort"


_ACTIONS = {RaceAction.start: contract.Start, RaceAction.yellow: contract.Yellow,
            RaceAction.green: contract.Green, RaceAction.red: contract.Red,
            RaceAction.finish: contract.Finish, RaceAction.abort: contract.Abort}


class RaceCreated(msgspec.Struct):
    race_id: int | None


class CommandDone(msgspec.Struct):
    ok: bool
    race_id: int | None


async def send(state: State, cmd: contract.Command) -> contract.Reply:
    try:
        reply = await state.bridge.command(cmd, timeout=TIMEOUT_S)
    except CommandTimeout as exc:
        log.warning("command %s: %s", cmd.__struct_config__.tag, exc)
        raise HTTPException(status_code=504, detail=f"lap service not answering ({exc})") \
            from None
    if not reply.ok:
        raise HTTPException(status_code=409, detail=reply.error or "refused")
    return reply


@post("/api/races", operation_id="setUpRace", summary="Set up a new race (director)",
      status_code=201, tags=["race control"])
async def set_up_race(data: JSONBody[RaceSetup], state: State) -> RaceCreated:  # type: ignore[valid-type]
    cmd = contract.Setup(**msgspec.structs.asdict(data))
    if not cmd.entrants and cmd.mode != "practice":
        # An empty grid would let any car that crosses race unnamed: a forgotten form, not
        # a choice (practice is the one session where anyone may just drive).
        raise ClientException("add at least one entrant: a driver per lane or car "
                              "(only a practice session runs without a grid)")
    reply = await send(state, cmd)
    return RaceCreated(race_id=reply.race_id)


@post("/api/events", operation_id="setUpHeats",
      summary="Set up a heat-rotation event; heat 1 is set up at once (director)",
      status_code=201, tags=["race control"])
async def set_up_heats(data: JSONBody[EventSetup], state: State) -> RaceCreated:  # type: ignore[valid-type]
    reply = await send(state, contract.Heats(**msgspec.structs.asdict(data)))
    return RaceCreated(race_id=reply.race_id)


@post("/api/races/current/{action:str}", operation_id="controlRace",
      summary="Start the lights, throw a flag, finish or abort the live race (director)",
      status_code=200, tags=["race control"])
async def control_race(action: Annotated[RaceAction, PathParameter()], state: State) -> CommandDone:
    reply = await send(state, _ACTIONS[action]())
    return CommandDone(ok=True, race_id=reply.race_id)


PassId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="pass id from the pass log")]


@post("/api/passes/{pass_id:int}/reinstate", operation_id="reinstatePass",
      summary="Count a suspect or deleted crossing; the race is re-scored (director)",
      status_code=200, tags=["race control"])
async def reinstate_pass(pass_id: PassId, state: State) -> CommandDone:
    reply = await send(state, contract.Reinstate(pass_id=pass_id))
    return CommandDone(ok=True, race_id=reply.race_id)


@post("/api/passes/{pass_id:int}/delete", operation_id="deletePass",
      summary="Ignore a false crossing; the race is re-scored (director)",
      status_code=200, tags=["race control"])
async def delete_pass(pass_id: PassId, state: State) -> CommandDone:
    reply = await send(state, contract.Delete(pass_id=pass_id))
    return CommandDone(ok=True, race_id=reply.race_id)


class PassTime(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """When: ``race_ms`` after green (what the director reads off the lap list), or a raw
    monotonic ``t_ns``; exactly one of them."""

    race_ms: Annotated[float, msgspec.Meta(ge=0, le=7 * 24 * 3600 * 1000)] | None = None
    t_ns: contract.StoredNanos | None = None


class NewPass(PassTime, kw_only=True, forbid_unknown_fields=True):
    lane: contract.LaneNo
    car: contract.CarId | None = None


def _t_ns(state: State, race_id: int, when: PassTime) -> int:
    if (when.race_ms is None) == (when.t_ns is None):
        raise HTTPException(status_code=400, detail="give the time as race_ms or t_ns, "
                            "not both and not neither")
    if when.t_ns is not None:
        return when.t_ns
    with state.db.connection_context():
        row = race_view.get_race(race_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no race {race_id}")
    if row.green_ns is None:
        raise HTTPException(status_code=409, detail=f"race {race_id} has not started: "
                            "give t_ns")
    return row.green_ns + round(when.race_ms * 1_000_000)


@post("/api/races/{race_id:int}/passes", operation_id="addPass",
      summary="Add a crossing the sensor missed, at a time the director gives; the race "
      "is re-scored (director)", status_code=200, tags=["race control"])
async def add_pass(race_id: Annotated[int, PathParameter(ge=1, le=2**63 - 1)],
                   data: JSONBody[NewPass], state: State) -> CommandDone:
    t_ns = _t_ns(state, race_id, data)
    reply = await send(state, contract.AddPass(race_id=race_id, lane=data.lane, car=data.car,
                                               t_ns=t_ns))
    return CommandDone(ok=True, race_id=reply.race_id)


@post("/api/passes/{pass_id:int}/time", operation_id="movePass",
      summary="Correct a crossing's time; the race is re-scored (director)",
      status_code=200, tags=["race control"])
async def move_pass(pass_id: PassId, data: JSONBody[PassTime], state: State) -> CommandDone:
    with state.db.connection_context():
        race_id = store.race_of_pass(pass_id)
    if race_id is None:
        raise HTTPException(status_code=404, detail=f"pass {pass_id} is not in a race")
    reply = await send(state, contract.MovePass(pass_id=pass_id,
                                                t_ns=_t_ns(state, race_id, data)))
    return CommandDone(ok=True, race_id=reply.race_id)


TeamKey = Annotated[int, PathParameter(ge=0, le=255, description="the team's car or lane")]


class PitOutBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kart: contract.CarId | None = None  # kart pool: the kart the team takes out


class DriverBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    driver: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]


class PenaltyAction(str, enum.Enum):
    confirm = "confirm"
    waive = "waive"


@post("/api/races/current/teams/{entrant:int}/pit_in", operation_id="pitIn",
      summary="Endurance: a team enters the pit (tracks without a pit sensor; director)",
      status_code=200, tags=["race control"])
async def pit_in(entrant: TeamKey, state: State) -> CommandDone:
    reply = await send(state, contract.PitIn(entrant=entrant))
    return CommandDone(ok=True, race_id=reply.race_id)


@post("/api/races/current/teams/{entrant:int}/pit_out", operation_id="pitOut",
      summary="Endurance: a team leaves the pit, in a kart pool with its kart (director)",
      status_code=200, tags=["race control"])
async def pit_out(entrant: TeamKey, state: State,
                  data: JSONBody[PitOutBody | None] = None) -> CommandDone:
    kart = data.kart if data is not None else None
    reply = await send(state, contract.PitOut(entrant=entrant, kart=kart))
    return CommandDone(ok=True, race_id=reply.race_id)


@post("/api/races/current/teams/{entrant:int}/driver", operation_id="changeDriver",
      summary="Endurance: who drives the team's car now (during a stop: next) (director)",
      status_code=200, tags=["race control"])
async def change_driver(entrant: TeamKey, data: JSONBody[DriverBody],
                        state: State) -> CommandDone:
    reply = await send(state, contract.DriverChange(entrant=entrant, driver=data.driver))
    return CommandDone(ok=True, race_id=reply.race_id)


@post("/api/races/current/penalties/{penalty_id:str}/{decision:str}",
      operation_id="decidePenalty",
      summary="Endurance: confirm (it costs time) or waive a pit-rule violation (director)",
      status_code=200, tags=["race control"])
async def decide_penalty(
    penalty_id: Annotated[str, PathParameter(min_length=1, max_length=64)],
    decision: Annotated[PenaltyAction, PathParameter()], state: State,
) -> CommandDone:
    reply = await send(state, contract.PenaltyDecision(penalty=penalty_id,
                                                       decision=decision.value))
    return CommandDone(ok=True, race_id=reply.race_id)


route_handlers = [set_up_race, set_up_heats, control_race, reinstate_pass, delete_pass, add_pass,
                  move_pass, pit_in, pit_out, change_driver, decide_penalty]
