"""The benchmarks behind scripts/benchmark.

images.py      the default mode: the image's sizes, builds, first /healthz and stop
http_bench.py  --http: the order of its steps (prepare, PostgreSQL, rounds, report)
services.py    --http: the services (ours on the host and in its image, the peer, a bare app)
load.py        --http: wrk cells and what they cost the server (CPU, RSS, new DB sessions)
report.py      --http: the table (Markdown) and every cell (JSON)
jobs_bench.py  --jobs: the worker's jobs/s and enqueue -> start delay
baked.py       baking a locked project, as a git checkout
cli.py         the command line
"""
