"""Connectors: one folder per remote system (email, Slack, Matrix, calendar, deployments, webhooks), each
with a manifest of tools, an account schema, a client, event sources and tests against a real server.
`contract` is the shape they share; `catalog` finds them."""
