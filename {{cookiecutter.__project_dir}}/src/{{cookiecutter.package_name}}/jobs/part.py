"""Background jobs as a part of the service: what it adds (parts.py).
The code it names is imported when it runs: checking the settings at start-up loads none of it."""

from {{ cookiecutter.package_name }}.jobs.settings import WorkerSettings

SETTINGS = WorkerSettings
COMMANDS: dict[str, tuple[str, str]] = {
    "worker": (
        "run the background jobs until SIGTERM",
        "{{ cookiecutter.package_name }}.jobs.worker:run",
    ),
}
# Nothing: the web process enqueues jobs in the transaction of the request making them
# (enqueue.py); the worker is a process of its own.
INSTALL = None
