"""The deploy connector (issue 6 item 5): start, watch and roll back releases through a deployment target.

Owns: the account schema (config.py), the target abstraction (target.py) and its adapters, each the only
module speaking its protocol (command.py + ledger.py: argv arrays without a shell; webhook.py: signed
POSTs; github_actions.py: workflow_dispatch; argocd.py: sync and rollback; transport.py: their HTTP),
watching (watch.py: health URLs and PromQL with thresholds), the tools (tools.py) and the event source
(events.py). docs/connectors/deploy.md describes the configuration and what was tested against what.
"""
