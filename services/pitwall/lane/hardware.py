"""Finding the GPIO hardware, and turning "no GPIO here" into one clear sentence.

Only the lgpio factory is used on real hardware: it hands gpiozero the kernel's edge
timestamp, which is what pass times are made of. gpiozero's automatic fallback would
quietly pick RPi.GPIO or the native factory, which stamp edges in user space (late by
however long the process took to wake up), so it is not used.
"""

from __future__ import annotations

import glob

from gpiozero.exc import GPIOZeroError
from gpiozero.pins import Factory


class GpioUnavailable(Exception):
    """The GPIO hardware (or one of its pins) cannot be used; the message says why."""


def gpio_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the pins cannot be opened", as opposed to a bug."""
    errors: list[type[BaseException]] = [GPIOZeroError, OSError]
    try:
        import lgpio  # only on the Pi image

        errors.append(lgpio.error)
    except ImportError:
        pass
    return tuple(errors)


def hardware_factory() -> Factory:
    """The lgpio pin factory, or GpioUnavailable with the reason it cannot be had."""
    try:
        from gpiozero.pins.lgpio import LGPIOFactory  # imports lgpio
    except ImportError as exc:
        raise GpioUnavailable(f"lgpio is not installed: {exc}") from None
    if not glob.glob("/dev/gpiochip*"):
        raise GpioUnavailable("no /dev/gpiochip* device") from None
    try:
        return LGPIOFactory()
    except gpio_errors() as exc:
        raise GpioUnavailable(f"{type(exc).__name__}: {exc}") from None
