"""The client's own topic-filter matching agrees with paho's on every filter and topic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from alarmlink.mqtt.matching import FilterTable

LEVEL = st.sampled_from(["a", "b", "dev", "", "$SYS", "$x", "event"])
TOPIC = st.lists(LEVEL, min_size=1, max_size=5).map("/".join)
FILTER_LEVEL = st.sampled_from(["a", "b", "dev", "", "+", "$SYS", "event"])


@st.composite
def filters(draw: st.DrawFn) -> str:
    levels = draw(st.lists(FILTER_LEVEL, min_size=0, max_size=4))
    if draw(st.booleans()) or not levels:
        levels.append("#")
    return "/".join(levels)


@given(st.lists(filters(), min_size=1, max_size=6, unique=True), TOPIC)
def test_matches_like_paho(table_filters: list[str], topic: str) -> None:
    table: FilterTable[str] = FilterTable()
    for topic_filter in table_filters:
        table.add(topic_filter, topic_filter)
    expected = [f for f in table_filters if topic_matches_sub(f, topic)]
    assert table.match(topic) == expected


def test_central_filters_route_each_channel() -> None:
    table: FilterTable[str] = FilterTable()
    for channel in ("event", "heartbeat", "snapshot/+"):
        table.add(f"alarmlink/v1/dev/+/{channel}", channel)
    assert table.match("alarmlink/v1/dev/school-01/event") == ["event"]
    assert table.match("alarmlink/v1/dev/school-01/snapshot/01J") == ["snapshot/+"]
    assert table.match("alarmlink/v1/dev/school-01/status") == []
    assert table.match("alarmlink/v1/dev/school-01/event/x") == []


@given(filters(), TOPIC, st.sampled_from(["ingest", "g-1"]))
def test_a_shared_subscription_matches_what_its_filter_matches(
        topic_filter: str, topic: str, group: str) -> None:
    """Issue 16: the broker delivers a ``$share/<group>/f`` message under its plain topic."""
    table: FilterTable[str] = FilterTable()
    table.add(f"$share/{group}/{topic_filter}", "shared")
    assert table.match(topic) == (["shared"] if topic_matches_sub(topic_filter, topic) else [])
