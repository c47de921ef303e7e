"""Webhooks: signed HTTP requests in (as triggers) and out (a `communicate_external` tool)."""
