"""The agent runtime: one run segment of an agent over pydantic-ai, behind a contract with no pydantic-ai
type in it (`contract`). This package is the only place in MeshClaw that imports pydantic_ai.

`execute(request, *, sink, gate, tools, model_factory)` runs a segment; `contract` holds its inputs,
outputs and callbacks; `default_gate.DefaultGate` is the deny-by-default gate used until the policy gate
exists.
"""
