"""``pitwall sim``: simulated cars publishing passes exactly as lane readers do.

By default the cars follow the race (grid, green, laps, stop); ``--free`` laps without
one. See docs/simulator.md.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys

import msgspec

from pitwall.settings import Settings
from pitwall.sim.model import MAX_CARS, MAX_LANES, MIN_LAP_S

log = logging.getLogger(__name__)


def _ranged(kind, low, high=None):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"{text} is out of range ({bound})")
        return value
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cars", type=_ranged(int, 1, MAX_CARS), default=6,
                        help="number of cars (default 6)")
    parser.add_argument("--lanes", type=_ranged(int, 1, MAX_LANES), default=None,
                        help="number of lanes; car i runs on lane ((i-1) %% L)+1 "
                             "(default: one lane per car)")
    parser.add_argument("--no-car-ids", action="store_true",
                        help="analog cars: passes carry no car ID")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed, to repeat a session (default: random, logged)")
    parser.add_argument("--lap-s", type=_ranged(float, MIN_LAP_S), default=5.0,
                        help="typical lap time in seconds; cars spread ±10%% around it "
                             "(default 5.0)")
    parser.add_argument("--noise", type=_ranged(float, 0.0, 0.1), default=0.02,
                        help="lap-to-lap variation, fraction of the car's pace (default 0.02)")
    parser.add_argument("--deslot", type=_ranged(float, 0.0, 1.0), default=0.03,
                        help="probability per lap of a deslot costing 3-8 s (default 0.03)")
    parser.add_argument("--bounce", type=_ranged(float, 0.0, 1.0), default=0.0,
                        help="probability per crossing of a sensor bounce: a second pass "
                             "0.5-5 ms later (default 0)")
    parser.add_argument("--passes", type=_ranged(int, 1), default=None, metavar="COUNT",
                        help="stop after COUNT passes (default: run until stopped)")
    parser.add_argument("--record", metavar="FILE",
                        help="append every published pass to FILE (CSV for pitwall replay)")
    parser.add_argument("--free", action="store_true",
                        help="lap continuously from now instead of following the race state")
    team = parser.add_argument_group("endurance (docs/simulator.md)")
    team.add_argument("--endurance", action="store_true",
                      help="teams of drivers sharing a car, with pit stops and driver changes "
                           "(--cars is the number of teams)")
    team.add_argument("--drivers", type=_ranged(int, 1, 8), default=3,
                      help="drivers per team (default 3)")
    team.add_argument("--stint-s", type=_ranged(float, 1.0), default=60.0,
                      help="typical stint before a stop, seconds (default 60)")
    team.add_argument("--pit-s", type=_ranged(float, 0.1), default=8.0,
                      help="typical time in the pit lane, seconds (default 8)")
    team.add_argument("--karts", type=_ranged(int, 0, 155), default=0,
                      help="rental karts: a pool of this many (more than teams); teams swap "
                           "kart at each stop (default 0: every team keeps its car)")


def endurance_model(args: argparse.Namespace, seed: int):
    from pitwall.sim.endurance import EnduranceModel

    return EnduranceModel(args.cars, drivers=args.drivers, lap_s=args.lap_s,
                          stint_s=args.stint_s, pit_s=args.pit_s, karts=args.karts,
                          seed=seed, noise=args.noise, spin=args.deslot)


def _pit_lanes(settings: Settings) -> tuple[int, int] | None:
    """The pit sensors' lanes (entry, exit) when both are configured."""
    roles = {lane.role: lane.lane for lane in settings.pit_lanes}
    return (roles["pit_in"], roles["pit_out"]) if {"pit_in", "pit_out"} <= roles.keys() \
        else None


def run(settings: Settings, args: argparse.Namespace) -> int:
    import signal

    from pitwall.bus import Bus
    from pitwall.sim.model import TrackModel
    from pitwall.sim.passlog import Recorder
    from pitwall.sim.publisher import PassPublisher
    from pitwall.sim.runner import RaceWatch, Sim

    try:
        recorder = Recorder(args.record) if args.record else None
    except OSError as exc:
        print(f"pitwall sim: cannot record to {args.record}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    bus = Bus(settings, "sim")
    commands, pit_lanes = None, None
    if args.endurance:
        try:
            model = endurance_model(args, seed)
        except ValueError as exc:
            print(f"pitwall sim: {exc}", file=sys.stderr)
            return 2
        pit_lanes = _pit_lanes(settings)
        log.info("%d teams, seed %d; stops by %s", len(model.teams), seed,
                 f"pit sensors on lanes {pit_lanes}" if pit_lanes else "pit commands")
        counter = iter(range(1, 2**62))

        def commands(cmd) -> None:
            cmd = msgspec.structs.replace(cmd, id=f"sim-{seed}-{next(counter)}")
            bus.publish(bus.topics.race_command, cmd)
    else:
        model = TrackModel(args.cars, lanes=args.lanes, lap_s=args.lap_s, noise=args.noise,
                           deslot=args.deslot, bounce=args.bounce, seed=seed,
                           car_ids=not args.no_car_ids)
        log.info("%d cars on %d lanes, seed %d (--seed %d repeats this session)",
                 len(model.cars), len({c.lane for c in model.cars}), seed, seed)
        for car in model.cars:
            log.info("car %d on lane %d: pace %.3f s", car.number, car.lane, car.pace_ns / 1e9)
        if args.no_car_ids and len({c.lane for c in model.cars}) < len(model.cars):
            log.warning("analog cars sharing a lane cannot be told apart by the lap service")

    watch = RaceWatch()
    if not args.free:
        bus.subscribe(bus.topics.race_state, watch.on_message)
    out = PassPublisher(bus, "sim", recorder)
    sim = Sim(model, out, watch, limit=args.passes, commands=commands, pit_lanes=pit_lanes)

    def stop(signum, frame):
        watch.stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    bus.start(wait=10)
    try:
        if args.free:
            sim.free()
        else:
            sim.follow()
    finally:
        out.flush()
        out.close()
        bus.stop()
    log.info("published %d passes", out.count)
    return 0
