"""Fixtures shared by every test tier, one per real component, in tests/fixtures/:
Mosquitto (fresh_mosquitto, shared_mosquitto, isolated_device_id), MQTT clients
(mqtt_test_client, central_stub, central_observer), central (central_process),
Chromium (chromium, chromium_page), agents (agent_set) and PostgreSQL (postgres_server,
pg_url)."""

from fixtures.ports import worker_free_port

import alarmlink.broker

# Before any test or fixture module imports it: each xdist worker its own block of ports
# (fixtures/ports.py), so a central restarted on its port never finds it taken.
alarmlink.broker.free_port = worker_free_port

# fixtures.mqtt first: fixtures.broker imports it, and pytest rewrites the asserts of a
# plugin module only if it imports the module itself
pytest_plugins = [
    "fixtures.mqtt",
    "fixtures.broker",
    "fixtures.central",
    "fixtures.browser",
    "fixtures.agents",
    "fixtures.postgres",
]
