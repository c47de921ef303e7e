"""Owns the OpenAI- and Anthropic-compatible model gateway at `/v1`: other AI tools call models through
MeshClaw with a MeshClaw virtual key, and every call is admitted against budgets, forwarded to the
provider that serves the model, metered once and settled.

The gateway is a raw ASGI dispatcher in front of the FastAPI app (`asgi.py`): its paths never run through
FastAPI's routing, dependency injection or middleware, because at thousands of requests per second per
process those cost more than the whole gateway. Everything it needs per request is in memory: keys
(`keys.py`), routes (`providers.live`), prices (the recorder's price book) and budgets (the limiter).
"""
