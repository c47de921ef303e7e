"""Agents: what an agent is (its definition and immutable versions), how one thinks (the runtime adapter
over pydantic-ai), what it remembers (memory) and which tools it reaches.

`spec.AgentSpec` is the contract every other part reads: files, the API and the web form all produce one.
"""
