"""Simulated cars and recorded pass logs: passes without a track.

``model`` is the pure car model, ``runner`` drives it onto the bus in real time
(``pitwall sim``), ``replay`` publishes a recorded log (``pitwall replay``), and
``passlog`` is the CSV format both share.
"""
