"""The lights service: start lights, flag LEDs, buzzer and track-power relay, plus the race
director's buttons. ``panel`` decides what each output shows at a moment (pure);
``outputs`` and ``buttons`` are the gpiozero adapters; ``service`` wires them to MQTT."""
