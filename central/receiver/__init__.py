"""Central as an IP alarm receiver: SIA DC-09 over TCP and UDP, straight from panels.

``config.py`` the ``[receiver]`` section, ``keys.py`` the per-account AES key file,
``accounts.py`` the DC-09 account -> registered device map and the stable event ids,
``handler.py`` one decoded frame -> the ingest path -> the answer, ``server.py`` the
asyncio TCP and UDP listeners. See docs/receiver.md.
"""
