"""The delivery app's REST API (/api/v1/plan-templates/, projects/, stages/, problems/, portal-links/)."""
