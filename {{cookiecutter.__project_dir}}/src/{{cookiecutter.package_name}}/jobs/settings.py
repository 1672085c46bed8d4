"""The background job worker's settings (`<command> worker`), read like the service's own
(settings.py): its own, with the service's and the database's, which the worker uses too. Its own
module, which imports nothing of the queue's code: checking the settings doesn't load it."""

from pydantic import Field, ValidationInfo, field_validator

from {{ cookiecutter.package_name }}.database.settings import DatabaseSettings
from {{ cookiecutter.package_name }}.settings import FROM_THE_ENVIRONMENT, Settings


class WorkerSettings(DatabaseSettings, Settings):
    model_config = FROM_THE_ENVIRONMENT
    # Jobs one worker process runs at once (asyncio tasks: jobs that wait on I/O share a CPU).
    worker_concurrency: int = Field(default=10, ge=1)
    # The worker's own HTTP port: GET /metrics (Prometheus) and GET /healthz (liveness).
    worker_port: int = Field(default=9000, ge=1, le=65535)
    # On SIGTERM the worker takes no new job and lets running ones finish for up to this long;
    # those still running then go back to the queue, to run again at once elsewhere. Keep it
    # below the orchestrator's grace period (Kubernetes: 30 s in worker-deployment.yaml).
    worker_shutdown_timeout: float = Field(default=20, gt=0)
    # Each worker records a heartbeat this often. A worker whose heartbeat is older than
    # worker_stalled_after is gone (killed, its node lost): its running jobs go back to the
    # queue. That is a job's lease: the longest a killed worker's job waits to run again.
    worker_heartbeat_interval: float = Field(default=5, gt=0)
    worker_stalled_after: float = Field(default=30, gt=0)
    # New jobs arrive by LISTEN/NOTIFY at once; a retry's delay ending is found by polling.
    worker_poll_interval: float = Field(default=1, gt=0)
    # Connections of one worker to PostgreSQL: its jobs' queries (asyncpg, DB_POOL_SIZE as in the
    # web process) plus the queue's own pool (this many).
    worker_queue_pool_size: int = Field(default=4, ge=2)
    # A job that raises is retried after job_retry_delay seconds, doubling each time up to
    # job_retry_max_delay, and fails (status `failed`, kept and visible) at its
    # job_max_attempts-th failure.
    job_max_attempts: int = Field(default=5, ge=1)
    job_retry_delay: float = Field(default=1, gt=0)
    job_retry_max_delay: float = Field(default=300, gt=0)
    # Finished jobs stay this long, for inspection; failed ones are never removed by the worker.
    job_retention_hours: int = Field(default=72, ge=1)

    @field_validator("worker_stalled_after")
    @classmethod
    def several_heartbeats(cls, stalled_after: float, info: ValidationInfo) -> float:
        """A live worker must not look stalled for one late heartbeat: its jobs would run twice."""
        heartbeat = info.data.get("worker_heartbeat_interval", 0)
        if stalled_after < 3 * heartbeat:
            raise ValueError(f"must be at least 3 x WORKER_HEARTBEAT_INTERVAL ({heartbeat})")
        return stalled_after
