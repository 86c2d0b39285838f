"""The partner simulator (``dn simulate``): a programme year played through the intake topics.

``programme`` plans it (pure: people, sessions, attendance, assessments, workshops, referrals,
placements, follow-ups, and the figures the platform should then show); ``delivery`` sends the
plan over Kafka as the associations' own systems would, each request once, and confirms each
was applied (a dead letter of its own is a failure it reports); ``command`` is what the CLI and
``dn up`` run.
"""
