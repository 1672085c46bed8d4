"""The job queue: procrastinate's app (its tasks are in tasks.py) and when a failed job runs again.

The app is created without a database: the worker gives it its connection (worker.py:
`app.replace_connector(...)`), the tests an in-memory one. Routes don't use it: they enqueue in
their own transaction (enqueue.py).
"""

import asyncio

import procrastinate
from procrastinate.exceptions import JobAborted
from procrastinate.jobs import Job

from {{ cookiecutter.package_name }}.jobs.settings import WorkerSettings

app = procrastinate.App(connector=procrastinate.PsycopgConnector())


class PermanentError(Exception):
    """Raise it from a task when trying again can't help: the job fails at once, no retry."""


class Retry(procrastinate.BaseRetryStrategy):
    """A failed job runs again after a delay doubling from `delay` up to `max_delay`, and is
    marked failed at its `max_attempts`-th failure: kept in the queue's table with status
    `failed`, visible and retryable by hand (README: Background jobs), and blocking nothing.

    A job the worker stopped at shutdown (its time was up: WORKER_SHUTDOWN_TIMEOUT) is not a
    failure: it goes back to the queue at once, whatever its attempts. (procrastinate's own
    RetryStrategy would leave it `aborted`, never to run again.)"""

    def __init__(self, max_attempts: int = 5, delay: float = 1, max_delay: float = 300) -> None:
        self.max_attempts, self.delay, self.max_delay = max_attempts, delay, max_delay

    def configure(self, settings: WorkerSettings) -> None:
        self.max_attempts = settings.job_max_attempts
        self.delay, self.max_delay = settings.job_retry_delay, settings.job_retry_max_delay

    def get_retry_decision(
        self, *, exception: BaseException, job: Job
    ) -> procrastinate.RetryDecision | None:
        if isinstance(exception, asyncio.CancelledError | JobAborted):
            return procrastinate.RetryDecision(retry_in={"seconds": 0})
        # job.attempts counts the runs before this one.
        if isinstance(exception, PermanentError) or job.attempts + 1 >= self.max_attempts:
            return None
        seconds = min(self.max_delay, self.delay * 2**job.attempts)
        return procrastinate.RetryDecision(retry_in={"seconds": seconds})


RETRY = Retry()
