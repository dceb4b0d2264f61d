"""The handover app's REST API (/api/v1/promises/, /api/v1/handovers/)."""
