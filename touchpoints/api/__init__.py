"""The touchpoints app's REST API (/api/v1/touchpoints/, /api/v1/agendas/)."""
