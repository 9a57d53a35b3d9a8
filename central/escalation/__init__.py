"""Every alarm reaches a person: the duty roster, escalation policies, notification
channels (SMS and voice over a GSM modem, webhook), inbound SMS acknowledgements and
119/120/village notifications. See docs/reference.md, "Escalation"."""
