"""The lap service: passes in, laps and race state out; the one writer of race data."""
