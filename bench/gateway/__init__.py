"""Gateway benchmark: MeshClaw's gateway against LiteLLM's proxy and the stub upstream called directly.

`install.sh` installs wrk and LiteLLM (its own venv, outside the repo); `run.py` starts the targets
(`targets.py`), drives the scenarios (`scenarios.py`) with wrk (`wrk.py`, the Lua scripts) and the
fixed-rate generator (`openloop.py`), reads CPU and memory from /proc (`procs.py`), and prints the
Markdown for bench/RESULTS.md (`report.py`)."""
