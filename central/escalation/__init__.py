"""Every alarm reaches a person: the duty roster, escalation policies, notification
channels (SMS and voice over a GSM modem, webhook), inbound SMS acknowledgements, the
venues' failover SMS, and 119/120/village notifications. See docs/reference.md, section
"Escalation"."""
