"""Owns the organization simulator: a realistic, labelled organization and its AI use, generated from a
seed and fed through the real ingestion paths, for demos, tests and for measuring Clarity's detector.

People and teams go through identity's org import; model calls, outcomes and activity go through the
metering recorder (journal, batched writer, rollups), as gateway and agent calls do, and a share of
coding-tool use is encoded as real OTLP payloads and mapped by metering's OTLP mappers, as the ingest
receivers do. Nothing is written with raw SQL, so what a dashboard shows of a simulation is what it
would show of the same traffic in production.

A services package: above identity and metering, below the interfaces; independent of Clarity (a
simulation must not know how it will be judged).
"""
