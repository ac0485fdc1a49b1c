"""Apex Timing messages as a kart track's live page receives them (hand-written after the
feed's shape: one WebSocket message per string, lines ``key|kind|value``).

Three karts in a two-hour endurance race: 14 "Les Pistards", 7 "Kart'Attack", 31 "Flat
Out"; columns c1..c14 as in ``GRID_HTML``'s header.
"""

GRID_HTML = (
    '<tbody>'
    '<tr data-id="r0" class="head" data-pos="0">'
    '<td data-id="c1" data-type="grp" data-pr="6"></td>'
    '<td data-id="c2" data-type="sta" data-pr="1"></td>'
    '<td data-id="c3" data-type="rk" data-pr="1">Clt</td>'
    '<td data-id="c4" data-type="no" data-pr="1">Kart</td>'
    '<td data-id="c5" data-type="dr" data-pr="1" data-width="22" data-min="12">Equipe</td>'
    '<td data-id="c6" data-type="s1" data-pr="3">S1</td>'
    '<td data-id="c7" data-type="s2" data-pr="3">S2</td>'
    '<td data-id="c8" data-type="llp" data-pr="2">Dernier T.</td>'
    '<td data-id="c9" data-type="gap" data-pr="1">Ecart</td>'
    '<td data-id="c10" data-type="int" data-pr="5">Interv.</td>'
    '<td data-id="c11" data-type="blp" data-pr="2">Meilleur T.</td>'
    '<td data-id="c12" data-type="otr" data-pr="4">En piste</td>'
    '<td data-id="c13" data-type="pit" data-pr="4">Stands</td>'
    '<td data-id="c14" data-type="tlp" data-pr="4">Tours</td>'
    '</tr>'
    '<tr data-id="r5512" data-pos="1">'
    '<td data-id="r5512c1" class="gs"></td><td data-id="r5512c2" class="sr"></td>'
    '<td data-id="r5512c3" class="rk"><div><p data-id="r5512c3" class="">1</p></div></td>'
    '<td data-id="r5512c4" class="no"><div class="no1">14</div></td>'
    '<td data-id="r5512c5" class="dr">Les Pistards [Ann]</td>'
    '<td data-id="r5512c6" class="tn"></td><td data-id="r5512c7" class="tn"></td>'
    '<td data-id="r5512c8" class="tn"></td><td data-id="r5512c9" class="gap"></td>'
    '<td data-id="r5512c10" class="int"></td><td data-id="r5512c11" class="tn"></td>'
    '<td data-id="r5512c12" class="to"></td><td data-id="r5512c13" class="in">0</td>'
    '<td data-id="r5512c14" class="in">0</td>'
    '</tr>'
    '<tr data-id="r5530" data-pos="2">'
    '<td data-id="r5530c1" class="gs"></td><td data-id="r5530c2" class="sr"></td>'
    '<td data-id="r5530c3" class="rk"><div><p data-id="r5530c3" class="">2</p></div></td>'
    '<td data-id="r5530c4" class="no"><div class="no2">7</div></td>'
    '<td data-id="r5530c5" class="dr">Kart&#39;Attack [Bob]</td>'
    '<td data-id="r5530c6" class="tn"></td><td data-id="r5530c7" class="tn"></td>'
    '<td data-id="r5530c8" class="tn"></td><td data-id="r5530c9" class="gap"></td>'
    '<td data-id="r5530c10" class="int"></td><td data-id="r5530c11" class="tn"></td>'
    '<td data-id="r5530c12" class="to"></td><td data-id="r5530c13" class="in">0</td>'
    '<td data-id="r5530c14" class="in">0</td>'
    '</tr>'
    '<tr data-id="r5547" data-pos="3">'
    '<td data-id="r5547c1" class="gs"></td><td data-id="r5547c2" class="sr"></td>'
    '<td data-id="r5547c3" class="rk"><div><p data-id="r5547c3" class="">3</p></div></td>'
    '<td data-id="r5547c4" class="no"><div class="no3">31</div></td>'
    '<td data-id="r5547c5" class="dr">Flat Out</td>'
    '<td data-id="r5547c6" class="tn"></td><td data-id="r5547c7" class="tn"></td>'
    '<td data-id="r5547c8" class="tn"></td><td data-id="r5547c9" class="gap"></td>'
    '<td data-id="r5547c10" class="int"></td><td data-id="r5547c11" class="tn"></td>'
    '<td data-id="r5547c12" class="to"></td><td data-id="r5547c13" class="in">0</td>'
    '<td data-id="r5547c14" class="in">0</td>'
    '</tr>'
    '</tbody>'
)

# On connection, before the start: the whole page.
INIT = "\n".join([
    "init|r|",
    "css|no1|border-bottom-color:#00a0e3 !important; color:#ffffff !important;",
    "css|no2|border-bottom-color:#e10000 !important; color:#ffffff !important;",
    "effects||",
    "comments||",
    "title1||Karting des Fagnes",
    "title2||2 Heures de Mariembourg",
    "wth1||",
    "track||Karting des Fagnes (1360 m)",
    "com||<p>Briefing à 13h30 - <b>Pit lane</b> limitée à 20 km/h</p>",
    "light|lr|",
    "dyn1|text|02:00:00",
    "grid||" + GRID_HTML,
])

# Green: the light and the clock starting.
GREEN = "light|lg|\ndyn1|countdown|7200000"

# 14 completes lap 1 in 58.312 s (the session's best so far: class tb), moves to P1.
LAP_14_1 = "\n".join([
    "dyn1|countdown|7141681",
    "r5512c8|tb|58.312",
    "r5512c14||1",
    "r5512c11|tb|58.312",
    "r5512c12||00:58",
    "r5512c9||",
])

# 7 completes lap 1 in 59.004 s: 0.692 behind the leader, 0.104 behind 31.
LAP_7_1 = "\n".join([
    "dyn1|countdown|7140990",
    "r5530c8|ti|59.004",
    "r5530c14||1",
    "r5530c11|ti|59.004",
    "r5530c9||0.692",
    "r5530c10||0.104",
])

# 14's lap 2 is a personal best (class ti) of 57.998.
BEST_14_2 = "\n".join([
    "dyn1|countdown|7083680",
    "r5512c8|ti|57.998",
    "r5512c14||2",
    "r5512c11|ti|57.998",
])

# 31 completes lap 1 in 58.900 s, ahead of 7 (still on its first lap): second place, and
# 7 drops to third (a position line per row, and the position cells).
POSITION = "\n".join([
    "dyn1|countdown|7141093",
    "r5547c8|ti|58.900",
    "r5547c14||1",
    "r5547c11|ti|58.900",
    "r5547|#|2",
    "r5547c3||2",
    "r5530|#|3",
    "r5530c3||3",
    "r5547c9||0.588",
])

GAP = "r5530c9||1 Tour\nr5530c10||12.441"

# 14 enters the pits 20 s after its lap 2: status "si", stop counter 1.
PIT_IN_14 = "\n".join([
    "dyn1|countdown|7063680",
    "r5512|*in|0",
    "r5512c2|si|",
    "r5512c13||1",
])

# 14 leaves with a new driver: status "so" and the driver cell.
PIT_OUT_14 = "\n".join([
    "dyn1|countdown|7013680",
    "r5512|*out|0",
    "r5512c2|so|",
    "r5512c5|drteam|Les Pistards [Cyril]",
])

# A clock standing (a red flag): the text, not a countdown.
CLOCK_STOPPED = "dyn1|text|01:57:58\nlight|lr|\nmsg||Drapeau rouge"

# The chequered flag.
FINISH = "dyn1|text|00:00:00\nlight|lf|"
