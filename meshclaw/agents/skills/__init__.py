"""Agent Skills (agentskills.io): folders holding a SKILL.md with YAML front matter and Markdown
instructions, installed under `<data_dir>/skills/<name>/` and granted per agent by name.

- `manifest`: reads and validates one skill folder, with errors that name the file, the field and why.
- `library`: the installed skills (list, look up, install from a folder).
- `tools`: what a skill gives an agent: `skill_load`, `skill_read_file` and the short instructions block
  that lists the agent's skills.

Progressive disclosure, as the spec intends: the model first sees only each skill's name and
description; it reads a skill's body, and then its files, through the tools, when a task calls for it.
Skill scripts are never run here: running one would be an unclassified (destructive) tool, so none is
offered.
"""
