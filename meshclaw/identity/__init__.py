"""Owns who is who and who may do what: the organization, teams, users, roles, API keys, web sessions,
and the one `authorize(principal, action, resource)` that every endpoint calls."""
