"""Owns budgets and rate limits: who may spend how much, how fast, and the admission decision the gateway
and the agent runtime ask for before every model call (`Limiter.admit`)."""
