"""Model upstreams: which providers exist, which models each serves, and how to reach them.

`registry` owns the `providers` table (add, list, remove, validate) and the in-memory routing table the
gateway and the agent runtime look models up in. Provider API keys are never stored: a provider names the
environment variable that holds its key, read by the server process when it calls the upstream.
"""
