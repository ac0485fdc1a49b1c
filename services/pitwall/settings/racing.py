"""What races are run with: the race defaults, endurance rules, the lane sensors, the
director's buttons and the lights."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from pitwall.settings.section import Section


class RaceDefaults(Section):
    """Defaults for a race set up without these fields."""

    min_lap_ms: Annotated[
        int, Meta(ge=0, description="Crossings closer than this to the previous counted one "
                  "are kept but marked suspect.")
    ] = 2000
    first_crossing: Annotated[
        Literal["counts", "starts"],
        Meta(description="'counts': lap 1 is timed from green; 'starts': the first "
             "crossing only starts timing."),
    ] = "counts"
    entrant: Annotated[
        Literal["car", "lane"], Meta(description="Entrants are keyed by car ID or by lane, "
                                     "when a set-up does not say and no [[lanes]] sensors tell "
                                     "(decoder/IR lanes: car; break-beam lanes: lane).")
    ] = "car"
    start_lead_ms: Annotated[
        int, Meta(ge=0, description="Delay between the start command and the first red light.")
    ] = 1000
    hold_min_ms: Annotated[
        int, Meta(ge=0, description="Shortest random hold after the fifth red light.")
    ] = 500
    hold_max_ms: Annotated[
        int, Meta(ge=0, description="Longest random hold after the fifth red light.")
    ] = 3000
    yellow_grace_ms: Annotated[
        int, Meta(ge=0, description="Laps still count, and the track keeps power, this long "
                  "after a yellow flag.")
    ] = 2000
    yellow_clock: Annotated[
        Literal["runs", "paused"],
        Meta(description="Whether a timed race's clock runs or pauses under yellow."),
    ] = "runs"
    green_countdown_ms: Annotated[
        int, Meta(ge=0, description="After the green command (resume after a yellow or red), "
                  "the flag stays out and the power off this long: drivers get to their "
                  "controllers. 3000 is usual; 0 resumes at once.")
    ] = 3000
    jump_start_penalty: Annotated[
        Literal["warning", "time", "stop_go", "restart"],
        Meta(description="What a pass between the first red light and green costs: "
             "'warning' (marked only), 'time' (jump_start_penalty_ms added to the race "
             "time), 'stop_go' (a stop that long to serve, added as time if unserved), "
             "'restart' (the start is void; start the lights again)."),
    ] = "warning"
    jump_start_penalty_ms: Annotated[
        int, Meta(ge=0, description="Time penalty, or length of the stop-and-go, for a "
                  "jump start.")
    ] = 5000
    auto_yellow_factor: Annotated[
        float, Meta(ge=0, description="Automatic track call: a yellow when a car has not "
                    "crossed for this many times its average lap (a deslot). 0: off.")
    ] = 0.0
    pass_horizon_s: Annotated[
        float, Meta(gt=0, le=7 * 24 * 3600, description="A pass stamped further ahead than "
                    "this of the race's latest accepted stamp (or of the lap service's clock, "
                    "if later) is implausible: refused, kept in the quarantine, never scored.")
    ] = 600.0


_Pin = Annotated[int, Meta(ge=0, le=53)]  # a BCM GPIO number


class EnduranceSettings(Section):
    """Defaults for endurance races (each can be set per race at setup); 0 is no rule."""

    min_pit_s: Annotated[
        float, Meta(ge=0, description="A stop shorter than this (pit entry to exit) is a "
                    "violation.")
    ] = 0.0
    min_stint_laps: Annotated[
        int, Meta(ge=0, description="A stint of fewer laps is a violation.")
    ] = 0
    max_stint_laps: Annotated[
        int, Meta(ge=0, description="A stint of more laps is a violation.")
    ] = 0
    min_stint_s: Annotated[
        int, Meta(ge=0, description="A stint shorter than this many seconds is a violation.")
    ] = 0
    max_stint_s: Annotated[
        int, Meta(ge=0, description="A stint longer than this many seconds is a violation.")
    ] = 0
    required_stops: Annotated[
        int, Meta(ge=0, description="Stops each team must make; each missing at the flag "
                  "is a violation.")
    ] = 0
    driver_change: Annotated[
        Literal["free", "every_stop"],
        Meta(description="'every_stop': the driver must change at every stop."),
    ] = "free"
    penalty_s: Annotated[
        float, Meta(ge=0, description="Time a violation adds to the team's race once the "
                    "director confirms it.")
    ] = 10.0
    pace_window: Annotated[
        int, Meta(ge=1, le=50, description="Pace average: the last this many clean laps.")
    ] = 5
    pace_outlier_mads: Annotated[
        float, Meta(gt=0, description="A lap further than this many scaled median absolute "
                    "deviations from the median is an outlier (a spin, a deslot).")
    ] = 3.0
    pace_min_laps: Annotated[
        int, Meta(ge=1, le=50, description="Clean laps needed before a pace and a pace tag "
                  "are shown.")
    ] = 3


class LaneSettings(Section, kw_only=True):
    """One lane sensor. ``pitwall lane --lane N`` reads the entry with ``lane = N``."""

    lane: Annotated[int, Meta(ge=1, description="Lane number (1 is the first lane).")]
    mode: Annotated[
        Literal["beam", "decoder", "ir"],
        Meta(description="'beam': break-beam or reed, one pass per edge; 'decoder': "
             "ZoomRoom-style decoder board; 'ir': digital car IDs from IR blink periods."),
    ] = "beam"
    pin: Annotated[
        int, Meta(ge=0, le=53, description="BCM pin of the sensor (FLAG line in decoder mode).")
    ]
    active_low: Annotated[
        bool, Meta(description="Sensor pulls the line low when a car passes (pull-up on).")
    ] = True
    id_pins: Annotated[
        list[int], Meta(description="Decoder mode: BCM pins of car-ID bits b1, b2, b3.")
    ] = []
    hshake_pin: Annotated[
        int | None, Meta(description="Decoder mode: BCM pin pulsed to acknowledge a car.")
    ] = None
    hshake_ms: Annotated[
        float, Meta(gt=0, description="Decoder mode: length of the HSHAKE pulse.")
    ] = 1.0
    ir_system: Annotated[
        Literal["carrera", "scalextric"], Meta(description="IR mode: blink-period scheme.")
    ] = "carrera"
    ir_tolerance_us: Annotated[
        float, Meta(gt=0, description="IR mode: how far a period may be from the nominal one.")
    ] = 12.0
    ir_holdoff_ms: Annotated[
        float, Meta(ge=0, description="IR mode: after reporting a car, ignore it this long.")
    ] = 300.0
    role: Annotated[
        Literal["line", "pit_in", "pit_out"],
        Meta(description="'line': the timing line (laps); 'pit_in' / 'pit_out': a sensor at "
             "the pit-lane entry or exit (endurance: its passes are pit stops, never laps)."),
    ] = "line"
    serves: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(description="Pit sensors in races keyed by lane: the track lane whose car this "
             "sensor sees."),
    ] = None


class ButtonSettings(Section, kw_only=True):
    """A race director's button: a press sends one race command (``pitwall lights``)."""

    pin: Annotated[int, Meta(ge=0, le=53, description="BCM pin of the button.")]
    command: Annotated[
        Literal["start", "yellow", "green", "red", "finish"],
        Meta(description="Race command a press sends: 'yellow' is a track call, 'green' "
             "resumes."),
    ]
    name: Annotated[
        str, Meta(max_length=40, description="Where the button is, for the log (e.g. "
                  "'driver station 2').")
    ] = ""
    active_low: Annotated[
        bool, Meta(description="Button connects the pin to GND (internal pull-up on).")
    ] = True
    bounce_ms: Annotated[
        int, Meta(ge=0, description="Presses closer than this to the last one are contact "
                  "bounce and ignored.")
    ] = 300


class LightsSettings(Section):
    """``pitwall lights``: start lights, flag LEDs, buzzer and track-power relay (BCM pins).

    A pin left out (or an empty list) means that output is not fitted.
    """

    red_pins: Annotated[
        list[_Pin], Meta(max_length=5, description="The five red start lights, first to fifth.")
    ] = msgspec.field(default_factory=lambda: [12, 16, 20, 21, 25])
    green_pin: Annotated[
        _Pin | None, Meta(description="Green start light: lit while racing under "
                         "green.")
    ] = 24
    yellow_pin: Annotated[
        _Pin | None, Meta(description="Yellow flag LED (blinks during the green "
                         "countdown).")
    ] = 23
    red_flag_pin: Annotated[
        _Pin | None, Meta(description="Red flag LED (also lit while the lap service "
                         "is offline).")
    ] = 18
    chequered_pin: Annotated[
        _Pin | None, Meta(description="Chequered (white) flag LED.")
    ] = 4
    buzzer_pin: Annotated[
        _Pin | None, Meta(description="Buzzer: beeps with each red light and "
                         "longer at green.")
    ] = 22
    power_pins: Annotated[
        list[_Pin], Meta(description="Track-power relays (one per lane where fitted); energised "
                        "means power on.")
    ] = msgspec.field(default_factory=lambda: [19])
    active_low_pins: Annotated[
        list[int], Meta(description="Outputs that are on when the pin is low (most relay "
                        "boards). Start lights share one polarity.")
    ] = []
    beep_ms: Annotated[int, Meta(ge=0, description="Beep length at each red light.")] = 150
    go_beep_ms: Annotated[int, Meta(ge=0, description="Beep length at green.")] = 600
