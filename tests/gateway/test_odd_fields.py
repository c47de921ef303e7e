"""Odd values in the fields of a model call (null, empty, very long, huge or non-finite numbers, the wrong
type) are answered in the API's own error shape, by the gateway (4xx) or as the upstream's refusal passed
on, never with a crash of the gateway itself (500); and nothing is metered twice.

For each endpoint, a valid body is sent with each top-level field, and the first message's content, set
to each odd value in turn."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx

from tests.gateway.conftest import Gateway

ODD: list[Any] = [None, "", "x" * 20_000, 2**70, -1, 1e308, math.nan, [], {}, True]
VALID: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"model": "stub-small", "messages": [{"role": "user", "content": "hi"}],
                             "max_tokens": 5, "stream": False},
    "/v1/responses": {"model": "stub-small", "input": "hi", "max_output_tokens": 5, "stream": False},
    "/v1/embeddings": {"model": "stub-small", "input": "hi"},
    "/v1/messages": {"model": "stub-large", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
                     "stream": False},
}  # fmt: skip


def variants(body: dict[str, Any]) -> list[str]:
    """The body with each odd value in each field and in a message's content, and with the text nested
    300 and 1,000 levels deep (orjson reads up to 1,024; Python's recursion limit is 1,000)."""
    found = [{**body, field: value} for field in body for value in ODD]
    if "messages" in body:
        found += [{**body, "messages": [{"role": "user", "content": value}]} for value in ODD]
    # json.dumps writes NaN as the bare token, which httpx's own encoder refuses to send.
    texts = [json.dumps(variant) for variant in found]
    return texts + [json.dumps(body).replace('"hi"', "[" * depth + "]" * depth) for depth in (300, 1000)]


def test_odd_fields_never_crash_the_gateway(gateway: Gateway) -> None:
    headers = {"authorization": f"Bearer {gateway.person.key}", "content-type": "application/json"}
    sent, wrong = 0, []
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        for path, body in VALID.items():
            for variant in variants(body):
                answer = http.post(path, content=variant, headers=headers)
                sent += 1
                if answer.status_code == 500 or ("error" not in answer.text and answer.status_code >= 400):
                    wrong.append(f"POST {path} {variant[:120]}: {answer.status_code} {answer.text[:120]}")
    assert sent > 150
    assert wrong == [], "\n".join(wrong)
    served = gateway.stub.stats()["requests"]  # every request the upstream saw, refused or answered
    assert 0 < served < sent and len(gateway.usage(at_least=served)) == served  # each metered once
