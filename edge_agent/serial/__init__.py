"""Serial fire panels and alarm transmission devices on the edge agent.

``[[serials]]`` in the agent config (:mod:`edge_agent.serial.config`) names a port (a
device path or a pyserial URL), its framing and the protocol it speaks (GB/T 26875.3,
Contact ID, SIA DC-09). :class:`edge_agent.serial.reader.SerialLink` runs one reader
thread per port: it feeds the protocol decoder (:mod:`alarmlink.codecs`), answers
every frame the way a monitoring centre must, turns decoded panel events into agent
events (``source = serial``) and supervises the link itself
(:mod:`edge_agent.serial.watch`): one ``trouble`` when the port is lost or silent for
too long, one ``restore`` when it is back.

This ``__init__`` imports nothing, so ``edge_agent.config`` can import the config model
without pulling in pyserial.
"""
