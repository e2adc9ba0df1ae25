"""The API layer: the only place that speaks HTTP (client), typed records, and errors."""
