"""``alarmlink sim modem``: the GSM modem simulator (:class:`simulators.modem.FakeModem`) on
a pseudo-terminal, for hardware testers: point central's or the agent's ``[modem] port`` at
the path it prints. It prints every SMS and call the client makes; from stdin it takes

    sms NUMBER TEXT        a phone sends TEXT to the modem (e.g. "sms 13900000001 1")
    answer NUMBER yes|no   whether that phone answers calls
    press NUMBER KEYS      keys the phone presses once it answers (e.g. "press 139... 1")
    fault error|silent N   the next N commands answer ERROR / nothing
    fault no_network 1|0   sends and calls fail, or work again
    fault slow SECONDS     every answer waits that long (0: off)
    reset                  a modem reset (stored messages and the call are lost)
    quit
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Any

from simulators.modem import FakeModem

FAULTS = ("error", "silent", "no_network", "slow")


def add_modem_command(commands: Any) -> None:
    modem = commands.add_parser("modem", help="a GSM modem simulator on a pseudo-terminal "
                                "(SMS, delivery reports, calls, DTMF, faults)",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    modem.add_argument("--number", default="", help="the simulated SIM's own number")
    modem.add_argument("--no-stdin", action="store_true",
                       help="do not read commands from stdin (run until Ctrl-C)")
    modem.set_defaults(func=cmd_modem)


def _say(text: str) -> None:
    print(text, flush=True)


def apply(modem: FakeModem, line: str) -> str:
    """One stdin command; returns what to print (an error names the fix)."""
    words = line.split(maxsplit=2)
    if not words:
        return ""
    verb = words[0].lower()
    if verb == "sms" and len(words) == 3:
        modem.deliver(words[1], words[2])
        return f"SMS from {words[1]} delivered to the modem"
    if verb == "answer" and len(words) == 3 and words[2] in ("yes", "no"):
        modem.phone(words[1]).answer = words[2] == "yes"
        return f"{words[1]} {'answers' if words[2] == 'yes' else 'does not answer'} calls"
    if verb == "press" and len(words) == 3:
        modem.phone(words[1]).press = words[2]
        return f"{words[1]} presses {words[2]} when it answers"
    if verb == "fault" and len(words) == 3 and words[1] in FAULTS:
        try:
            value = float(words[2])
        except ValueError:
            return f"fault {words[1]}: {words[2]!r} is not a number"
        modem.fault(words[1], value)
        return f"fault {words[1]} = {value:g}"
    if verb == "reset":
        modem.reset()
        return "modem reset"
    return ("unknown command: sms NUMBER TEXT | answer NUMBER yes|no | press NUMBER KEYS | "
            "fault error|silent|no_network|slow N | reset | quit")


def _report(modem: FakeModem, stop: threading.Event) -> None:
    """Print every SMS and call as the simulated network sees it."""
    seen_sms = seen_calls = seen_msgs = 0
    while True:
        stopping = stop.wait(0.2)
        with modem.lock:
            sent, dialled = list(modem.sent), list(modem.dialled)
            messages = [(p.number, m) for p in modem.phones.values() for m in p.messages]
        for number, text in sent[seen_sms:]:
            _say(f"SMS part to {number}: {text}")
        for number in dialled[seen_calls:]:
            _say(f"call to {number}")
        for number, text in messages[seen_msgs:]:
            _say(f"phone {number} shows: {text}")
        seen_sms, seen_calls, seen_msgs = len(sent), len(dialled), len(messages)
        if stopping:  # one last pass: nothing the client did goes unprinted
            return


def cmd_modem(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    modem = FakeModem(number=args.number).start()
    reporter = threading.Thread(target=_report, args=(modem, stop), daemon=True)
    reporter.start()
    try:
        _say(f"modem simulator on {modem.path}")
        _say(f'config: [modem] port = "{modem.path}"')
        if args.no_stdin:
            stop.wait()
            return 0
        for line in sys.stdin:
            if stop.is_set() or line.strip().lower() == "quit":
                break
            answer = apply(modem, line.strip())
            if answer:
                _say(answer)
        return 0
    finally:
        stop.set()
        reporter.join(2)
        modem.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
