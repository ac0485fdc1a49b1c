"""Live-timing feeds as a pass source: ``pitwall feed apex`` turns a track's Apex Timing
WebSocket feed into Pitwall's own passes and commands (docs/feeds.md).

The pure part (``apex_protocol``, ``apex_grid``, ``apex_mapper``) takes the feed's text and
its receive times as data and says what happened; the adapters around it talk to the
WebSocket, the archive and the bus.
"""
