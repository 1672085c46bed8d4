"""Background jobs: a queue in PostgreSQL (procrastinate) and the worker that runs its jobs.

- enqueue.py: what routes call to enqueue a job in their own transaction (the web process
  imports only this module);
- queue.py: the queue's app, and when a failed job runs again;
- tasks.py: the jobs themselves;
- worker.py: `<command> worker`, its shutdown, restarts and the jobs of lost workers;
- observability.py: its metrics, health, log fields and traces.

README: Background jobs.
"""
