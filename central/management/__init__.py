"""One-key management and assessment (一键式管理 / 一键式考评).

Library functions called on the writer thread (``db`` first, inside :func:`write_tx`)
or on a reader thread; the routes in :mod:`central.api.management` authorise and audit.

* :mod:`.common`: errors, JSON columns, the hazard timeline;
* :mod:`.org`: villages, fire zones, liaison points, volunteer teams, members, drills;
* :mod:`.checklists`: versioned checklists per venue category, starting lists;
* :mod:`.inspections`: plans, overdue venues, inspection records, signatures, photos;
* :mod:`.notices`: hazards, rectification notices, proofs, re-inspection, escalation,
  penalty cases, fire investigations;
* :mod:`.telemetry`: rules that open hazards from the devices' history;
* :mod:`.scores`: versioned score rules, monthly scores and rankings;
* :mod:`.stats`: the dashboard's figures and the records behind each;
* :mod:`.pdf`: the rectification notice as a PDF with a QR code.
"""
