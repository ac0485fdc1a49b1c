"""Lane readers: one process per lane turns sensor edges into ``contract.Pass`` messages.

``reader`` holds the shared GPIO plumbing and the tick conversion, ``modes`` the three
input modes (break-beam, decoder board, IR periods), ``hardware`` finds the real GPIO
chip, and ``main`` is ``pitwall lane --lane N``.
"""
