"""``pitwall health``: the box reports on itself (temperature, power, disk, services)."""
