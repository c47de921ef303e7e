"""Runs: durable execution of agent versions on DBOS, the queues that bound them, the triggers that start
them (cron, intervals, one-shot times, events, "run now") and the run history people inspect."""
