"""Several tracks and many spectators: the pieces that run beyond one box.

Each track's Mosquitto bridges its topics to a central Mosquitto (TLS, one login per
track, under ``tracks/<track>/``); one archive writer per track mirrors the track's races
into a central PostgreSQL from its journal; API replicas behind HAProxy fan the live state
out to browsers. Every piece is an existing engine configured from settings: there is no
home-made clustering. See docs/scale-out.md.
"""
