"""What every HTTP request goes through, whatever the resource:

- middleware.py: its id, metrics and log line, and the route template that names it;
- limits.py: what its body may cost (size, bodies in flight, time);
- errors.py: the JSON shape of every error answer, and the 503s;
- health.py: /healthz and /readyz;
- swagger_ui.py: the /docs page, served by the service itself.
"""
