"""Runs: durable execution of agent versions on DBOS, the queues that bound them, the triggers that start
them (cron, intervals, one-shot times, events, "run now") and the run history people inspect.

`engine` owns DBOS in the server process and every way a run starts, stops or gets a decision;
`workflow` the durable workflow of one run; `steps` its model requests and tool calls as checkpointed
steps, `checkpoints` the SQL of their `run_checkpoints`; `execution` what executes a segment (the agent
runtime by default, `agent_execution`); `triggers` when time triggers are due and events match; `guards`
what may stop a run from starting; `store` the SQL of runs and steps; `history` runs as people may see
them; `webhooks` agents' inbound webhook tokens.
"""
