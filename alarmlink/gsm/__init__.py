"""GSM modem support shared by the venue agent and central: SMS PDUs (3GPP TS 23.040)
and an AT-command modem client over a serial port (pyserial)."""

from alarmlink.gsm.modem import AtModem, CallResult, ModemError, SentSms
from alarmlink.gsm.pdu import (
    Deliver,
    PduError,
    StatusReport,
    Submit,
    decode_deliver,
    decode_status_report,
    decode_submit,
    encode_deliver,
    encode_status_report,
    encode_submit,
    normalize_number,
    reassemble,
)

__all__ = [
    "AtModem", "CallResult", "Deliver", "ModemError", "PduError", "SentSms", "StatusReport",
    "Submit", "decode_deliver", "decode_status_report", "decode_submit", "encode_deliver",
    "encode_status_report", "encode_submit", "normalize_number", "reassemble",
]
