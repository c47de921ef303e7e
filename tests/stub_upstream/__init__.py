"""A fast, deterministic fake model upstream speaking the OpenAI and Anthropic HTTP APIs.

The gateway's tests and benchmarks need an upstream that answers instantly, always the same way, and that
keeps its own count of what it served, so MeshClaw's usage records can be reconciled against it (the
durability test kills the gateway under load and compares). It is a raw ASGI app on uvicorn + httptools +
uvloop, without FastAPI, so that in a benchmark the stub costs a few hundredths of what the proxy under test
does and the "direct" row is a real ceiling.

Token counts come from the request: input tokens are the whitespace-separated words of every text in it
(messages, system, instructions, input), output tokens are 8 (or fewer if `max_tokens` says so) and the
reply is exactly that many words, one per streamed chunk. Test hooks, by request header or inside the
model name (a gateway may not forward unknown headers, but it forwards the model):

| effect | header | model name part |
|---|---|---|
| answer with an error status (OpenAI- or Anthropic-shaped body) | `x-stub-error: 429` | `error-429` |
| wait before answering (ms) | `x-stub-delay-ms: 50` | `delay-50` |
| wait between streamed chunks (ms) | `x-stub-chunk-delay-ms: 10` | `chunkdelay-10` |
| report cached input tokens (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`) | `x-stub-cached-tokens: 3` | `cached-3` |
| report cache-write tokens (Anthropic `cache_creation_input_tokens`) | `x-stub-cache-write-tokens: 2` | `cachewrite-2` |
| report reasoning tokens (inside output, as OpenAI counts them) | `x-stub-reasoning-tokens: 2` | `reasoning-2` |
| number of output tokens | `x-stub-output-tokens: 20` | `out-20` |
| cut the stream after N chunks without finishing it | `x-stub-cut-after: 3` | `cut-3` |

e.g. model `stub-small-cached-4-out-2`. Cached tokens are part of OpenAI's `prompt_tokens` but not of
Anthropic's `input_tokens`, as the real APIs count them.

`GET /stub/stats` returns one record per request served (the id it generated, model, tokens billed,
whether a stream completed, the key it received); `GET /stub/stats?summary=1` only the totals;
`POST /stub/reset` forgets them. `--require-key KEY` answers 401 to any other key. In process,
`Stub(responder=...)` scripts what chat completions answer (tool calls or text, by rules over the request;
`scripted`), for scenario tests that drive agents through the real provider path.

    .venv/bin/python -m tests.stub_upstream --port 9101

The package: `app` (the ASGI app and its hooks), `payloads` (what each API answers), `ledger` (the record
of one served request), `scripted` (answers decided by a test's rules), `run` (serving it in a thread for tests or in a process for benchmarks).
"""

from __future__ import annotations

from tests.stub_upstream.app import DEFAULT_MODELS, Stub
from tests.stub_upstream.ledger import Served
from tests.stub_upstream.run import RunningStub, free_port, stub_in_thread, stub_process
from tests.stub_upstream.scripted import Responder, Scripted, ToolCall

__all__ = [
    "DEFAULT_MODELS",
    "Responder",
    "RunningStub",
    "Scripted",
    "Served",
    "Stub",
    "ToolCall",
    "free_port",
    "stub_in_thread",
    "stub_process",
]
