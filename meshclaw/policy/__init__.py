"""The policy gate: the one place in code that decides, before every tool call of every run, whether it
runs (`allow`), does not (`deny`), or waits for a person (`needs_approval`).

- `rules`: the decision as a pure function of the call, the run and the agent's policy (tested for every
  effect class, mode and taint combination);
- `destinations`, `egress`: where a call sends data, and whether the organization allows it;
- `scopes`: a grant narrowed to folders, channels, services, environments, recipient domains;
- `preapprovals`: narrow patterns an admin approved in advance for one agent;
- `store`, `gate`: the organization's rows, and the `ToolGate` the runs engine uses.
"""
