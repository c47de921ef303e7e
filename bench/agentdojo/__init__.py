"""The AgentDojo proof of the policy gate (issue 5): AgentDojo's four suites, played by a compromised model
through MeshClaw's agent runtime, with the gate in front of every tool call.

- `effects`: the effect class of every AgentDojo tool (one reviewed table);
- `tools`: the suites' functions as MeshClaw registry tools bound to one task's environment;
- `attacker`: the scripted model that does the user's task and obeys every injection it reads;
- `harness`: one case through `execute`, the person who approves in attended runs, AgentDojo's checks;
- `benchmark`: the suites, the attack, the 949 pairs; `gates`: the gates by name;
- `__main__`: the full run (`python -m bench.agentdojo`), whose numbers SECURITY.md quotes.
"""
