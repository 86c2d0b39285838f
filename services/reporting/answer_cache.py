"""Computed ``/impact`` answers, shared by the requests that ask the same thing at once.

Every figure comes from counters, but an answer still reads every counter of its scope and
builds rates, forecasts and breakdowns from them: dozens of dashboards and a live push after
each commit would otherwise do that work again and again for identical figures. An answer is
reused while the key holds (projection version, scope, this process's change sequence, day,
audience) and for at most ``ttl_s``: another reporting instance's commits are not announced in
this process, so the time bound caps how stale they can make it. Concurrent requests for a
key being computed wait for that one computation.
"""

from __future__ import annotations

from kit.shared import SharedComputations


class AnswerCache(SharedComputations[bytes]):
    """Serialized ``/impact`` answers (kit.shared), kept at most ``ttl_s`` (1 s)."""
