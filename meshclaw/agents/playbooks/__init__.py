"""Playbooks: built-in agents whose steps are code (inbox triage, deployment watch, deploy on request,
nightly dreaming), run through the same gate, durable steps and audit as model-driven agents, asking the
model only for constrained choices. `contract` is their shape, `steps` what they may do, `runner` runs one
segment, `catalog` lists the built-in ones."""
