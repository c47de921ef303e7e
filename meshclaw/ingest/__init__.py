"""Owns how telemetry and usage reports from other AI tools reach metering: the OTLP/HTTP receivers
(`POST /v1/metrics`, `/v1/logs`, `/v1/traces`, protobuf or JSON, gzip) and usage-report imports (GitHub
Copilot NDJSON, Cursor daily usage JSON) by file upload and CLI. What the records mean is metering's
business (`metering.otel_*`, `metering.import_*`); this package authenticates, decodes, attributes records
to MeshClaw users and hands the events to the recorder."""
