"""The synthetic park: a registry in the import formats, a stream of passages, alarms and
heartbeats that follows a plausible daily life, injected anomalies and data faults, and
their ground truth (``anyuan simulate``; see docs/simulator.md)."""
