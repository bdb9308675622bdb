"""The reference API: health, readiness of its dependencies, Prometheus metrics, sample routes."""
