"""Connector accounts: the mailboxes, workspaces, calendars and deploy targets agents act through, stored
per owner (or for the organization) with their secrets as vault references, and resolved for the call in
progress."""
