"""Topic filter matching for :class:`alarmlink.mqtt.MqttClient`, cheaper than paho's.

paho matches each incoming message against ``message_callback_add`` filters with a
recursive generator over a trie, which showed up as a tenth of central's MQTT thread at
thousands of messages a second. A client has a handful of filters, so checking each
filter's fixed levels against the topic's levels is cheaper. Semantics are MQTT's:
``+`` is one level, a trailing ``#`` is any number of levels (zero included), and a
wildcard at the first level does not match a topic starting with ``$``.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class FilterTable(Generic[T]):
    """Filters → values; :meth:`match` returns the values whose filter matches a topic."""

    def __init__(self) -> None:
        #: (filter levels count, ends with '#', [(level index, fixed text)], value)
        self._entries: list[tuple[int, bool, list[tuple[int, str]], bool, T]] = []
        self._filters: dict[str, int] = {}

    def add(self, topic_filter: str, value: T) -> None:
        """Add (or replace) ``topic_filter``. A shared subscription (``$share/<group>/f``)
        matches what ``f`` matches: the broker delivers the plain topic."""
        levels = topic_filter.split("/")
        if levels[0] == "$share" and len(levels) > 2:
            levels = levels[2:]
        multi = levels[-1] == "#"
        if multi:
            levels = levels[:-1]
        fixed = [(i, part) for i, part in enumerate(levels) if part != "+"]
        wild_first = not levels or levels[0] == "+" or (multi and not levels)
        entry = (len(levels), multi, fixed, wild_first, value)
        if topic_filter in self._filters:
            self._entries[self._filters[topic_filter]] = entry
        else:
            self._filters[topic_filter] = len(self._entries)
            self._entries.append(entry)

    def match(self, topic: str) -> list[T]:
        levels = topic.split("/")
        count = len(levels)
        system = topic.startswith("$")
        found: list[T] = []
        for size, multi, fixed, wild_first, value in self._entries:
            if count != size and not (multi and count >= size):
                continue
            if system and wild_first:
                continue
            for i, part in fixed:
                if levels[i] != part:
                    break
            else:
                found.append(value)
        return found

