"""What the service tells its operators: logs.py (JSON lines with the request's id and fields),
metrics.py (Prometheus at /metrics) and tracing.py (OpenTelemetry spans over OTLP)."""
