"""The operator's tools: the ``dn`` command, the launcher, embedded infrastructure, status,
traces, the partner simulator and demo data. Imports the services; nothing imports it but
bench/ and tests/ (see README, "Where things are")."""
