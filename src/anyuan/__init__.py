"""anyuan 安园 — the platform a police station and the enterprises of its parks run together."""

__version__ = "0.1.0"
