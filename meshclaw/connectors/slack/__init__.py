"""The Slack connector: a workspace's bot (and optionally a person's user token) as an account.

Owns everything MeshClaw knows about Slack: the account schema (`config.py`), the Web API calls
(`client.py`, the only module that speaks to Slack's Web API), the tools (`tools.py`), Events API and
interactivity requests (`inbound.py`), the Socket Mode event source (`socket_mode.py`), what an event or
a button click means (`events.py`) and approval prompts in the owner's DM (`approvals.py`).
"""
