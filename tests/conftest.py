"""Fixtures shared by every test tier, one per real component, in tests/fixtures/:
Mosquitto (fresh_mosquitto, shared_mosquitto, isolated_device_id), MQTT clients
(mqtt_test_client, central_stub, central_observer), central (central_process),
Chromium (chromium, chromium_page), agents (agent_set) and PostgreSQL (postgres_server,
pg_url)."""

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
