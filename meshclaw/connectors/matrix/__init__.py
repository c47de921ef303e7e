"""Matrix: rooms, direct messages, mentions, and approvals answered with reactions, through matrix-nio.

`client.py` is the only module that speaks the Matrix client-server API; `tools.py` holds the tools,
`events.py` the sync loop that turns messages into events and 👍/👎 reactions into approval answers,
`approvals.py` the approval prompt posted to the owner's DM, `manifest.py` the connector.
"""
