"""GPIO pin names: BCM numbers, gpiozero's ``GPIO17`` / ``BCM17`` / ``BOARD11`` / ``J8:11``.

Every pin in a config is normalised to its BCM number, so ``17``, ``"GPIO17"``
and ``"BOARD11"`` are recognised as the same pin when checking for clashes.
"""

from __future__ import annotations

import re

#: Physical 40-pin header position -> BCM GPIO number (every Pi since the B+).
HEADER_TO_BCM: dict[int, int] = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24,
    19: 10, 21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12,
    33: 13, 35: 19, 36: 16, 37: 26, 38: 20, 40: 21,
}
_PIN_NAME = re.compile(r"^(?:(GPIO|BCM)(\d{1,2})|(BOARD|J8:)(\d{1,2}))$", re.IGNORECASE)


def normalise_pin(value: object) -> int:
    """A BCM GPIO number from an int or a gpiozero pin name. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("pin must be a BCM number or a pin name like 'GPIO17', not a boolean")
    if isinstance(value, int):
        if not 0 <= value <= 27:
            raise ValueError(f"BCM pin {value} is not on the 40-pin header (0-27)")
        return value
    if isinstance(value, str):
        match = _PIN_NAME.match(value.strip())
        if match and match.group(2) is not None:
            return normalise_pin(int(match.group(2)))
        if match and match.group(4) is not None:
            physical = int(match.group(4))
            if physical not in HEADER_TO_BCM:
                raise ValueError(f"header pin {physical} is not a GPIO pin (power, ground or ID)")
            return HEADER_TO_BCM[physical]
        raise ValueError(f"{value!r} is not a pin: use a BCM number (17) or 'GPIO17', "
                         "'BOARD11', 'J8:11'")
    raise ValueError("pin must be a BCM number or a pin name like 'GPIO17'")
