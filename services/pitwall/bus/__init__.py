"""Adapters to the event bus (MQTT)."""

from pitwall.bus.mqtt import Bus

__all__ = ["Bus"]
