"""`impact` answers shared by the callers who would get the same one, until the figures move.

A dashboard's `impact` query is asked by every viewer, every few seconds, with the same text.
Its answer depends on the query and its variables, the caller's role and association (what
reporting hides, what the gateway lets through), the projection's sequence (each committed
change moves it) and the districts' and associations' names. The gateway hears the sequence
from reporting's change stream (gateway/live.py): while the stream is connected, one execution
answers every request with the same key, and a new sequence is a new key. While it is not
(reporting restarting), nothing is shared. Only answers without errors are kept.

Only queries reading ``impact`` (and ``__typename``) are shared: every other field reads what
may change without a projection commit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import date
from functools import lru_cache

from graphql import DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode, OperationType
from graphql.language.parser import parse
from strawberry.types import ExecutionResult

from kit.shared import SharedComputations

SHARED_FIELDS = frozenset({"impact", "__typename"})
# Distinct keys kept at once (query texts × variables × audiences, for the current sequence).
KEPT = 256
# The oldest answer given again, as reporting's own (a rebuild switching versions, a new day,
# say nothing on the change stream).
MAX_AGE_S = 1.0


@lru_cache(maxsize=256)
def _reads_only_impact(query: str, operation_name: str | None) -> bool:
    """Whether the operation ``operation_name`` of ``query`` is a query whose root fields are
    all shared ones (no fragment at the root: it could read anything)."""
    try:
        document: DocumentNode = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    selections = operations[0].selection_set.selections
    return all(
        isinstance(selection, FieldNode) and selection.name.value in SHARED_FIELDS
        for selection in selections
    )


def answer_key(
    query: str | None,
    variables: dict[str, object] | None,
    operation_name: str | None,
    audience: tuple[str, str | None],
    sequence: Hashable,
    reference_epoch: int,
) -> Hashable | None:
    """The key an answer is shared under, or None when it is not to be shared."""
    if query is None or sequence is None or not _reads_only_impact(query, operation_name):
        return None
    try:
        shown = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    # The date too: reporting's forecasts and weeks move at midnight without a commit.
    return (query, shown, operation_name, audience, sequence, reference_epoch, date.today())


class SharedAnswers:
    """One execution per key for the requests that arrive while it runs and after, until the
    key changes or the answer is ``max_age_s`` old; failed or erroneous answers are not kept
    (kit.shared)."""

    def __init__(
        self,
        kept: int = KEPT,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._answers: SharedComputations[ExecutionResult] = SharedComputations(
            max_age_s, clock, kept
        )
        self.sequence: Hashable = None  # the sequence the kept answers are of

    async def get(
        self, key: Hashable, sequence: Hashable, execute: Callable[[], Awaitable[ExecutionResult]]
    ) -> ExecutionResult:
        """The answer kept under ``key``, else ``execute``'s (shared with whoever asks
        meanwhile); ``sequence``: the projection's, of which every key kept is."""
        if sequence != self.sequence:
            self._answers.clear()  # the figures moved: nothing kept is current any more
            self.sequence = sequence
        # An error is said to whoever asked, not kept.
        return await self._answers.get(key, execute, keep=lambda result: not result.errors)

    def __len__(self) -> int:
        return len(self._answers)
