"""A query text is parsed and validated once (gateway/schema.py), and the limits still hold
for every request that sends it."""

from __future__ import annotations

from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from gateway.schema import CACHED_QUERIES, MAX_ALIASES, build_schema

TOO_MANY_ALIASES = "{ " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 5)) + " }"


async def test_a_query_sent_again_is_not_validated_again_and_is_refused_the_same() -> None:
    schema = build_schema()
    validations = _get_validate_cache(CACHED_QUERIES)
    parses = _get_parse_cache(CACHED_QUERIES)
    before, parsed_before = validations.cache_info(), parses.cache_info()

    answers = [await schema.execute(TOO_MANY_ALIASES) for _ in range(3)]

    for answer in answers:
        assert answer.errors is not None
        assert [e.message for e in answer.errors] == [
            f"{MAX_ALIASES + 5} aliases found. Allowed: {MAX_ALIASES}"
        ]
    after, parsed_after = validations.cache_info(), parses.cache_info()
    assert after.hits - before.hits == 2, "validated once, found twice"
    assert parsed_after.hits - parsed_before.hits == 2, "parsed once, found twice"
