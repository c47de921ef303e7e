"""Provider usage objects into exclusive buckets: cached input and reasoning output never count twice."""

from __future__ import annotations

from meshclaw.metering.events import TokenBuckets
from meshclaw.metering.normalize import from_anthropic, from_inclusive, from_openai


def test_openai_chat_usage_splits_cached_input_and_reasoning_output() -> None:
    usage = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1000},
        "completion_tokens_details": {"reasoning_tokens": 200},
    }
    buckets = from_openai(usage)
    assert buckets == TokenBuckets(input_uncached=200, cache_read=1000, output=100, reasoning=200)
    assert buckets.total == 1500


def test_openai_responses_usage_uses_input_and_output_tokens() -> None:
    usage = {
        "input_tokens": 50,
        "output_tokens": 40,
        "input_tokens_details": {"cached_tokens": 20},
        "output_tokens_details": {"reasoning_tokens": 30},
    }
    assert from_openai(usage) == TokenBuckets(input_uncached=30, cache_read=20, output=10, reasoning=30)


def test_openai_embeddings_usage_has_only_input() -> None:
    assert from_openai({"prompt_tokens": 8, "total_tokens": 8}) == TokenBuckets(input_uncached=8)


def test_inconsistent_upstream_counts_are_clamped_not_negative() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 50},
        "completion_tokens_details": {"reasoning_tokens": 9},
    }
    buckets = from_openai(usage)
    assert buckets == TokenBuckets(input_uncached=0, cache_read=10, output=0, reasoning=5)


def test_garbage_values_count_as_zero() -> None:
    assert from_openai({"prompt_tokens": "lots", "completion_tokens": None}) == TokenBuckets()
    assert from_openai({"prompt_tokens": True, "completion_tokens": -3}) == TokenBuckets()


def test_anthropic_input_already_excludes_cache_reads_and_writes() -> None:
    usage = {
        "input_tokens": 12,
        "cache_read_input_tokens": 3000,
        "cache_creation_input_tokens": 500,
        "output_tokens": 80,
    }
    assert from_anthropic(usage) == TokenBuckets(
        input_uncached=12, cache_read=3000, cache_write=500, output=80
    )


def test_inclusive_counts_subtract_cache_from_input_and_reasoning_from_output() -> None:
    buckets = from_inclusive(
        input_total=1000, output_total=300, cache_read=600, cache_write=100, reasoning=120
    )
    assert buckets == TokenBuckets(
        input_uncached=300, cache_read=600, cache_write=100, output=180, reasoning=120
    )
