#!/usr/bin/env python3
"""Smoke-test a built image: it starts, answers /healthz, and stops cleanly on `docker stop`.

Usage: scripts/docker_smoke.py IMAGE   (what `make docker-smoke` and CI run on a loaded image)
Environment: DOCKER (the client, default docker), PORT (default {{ cookiecutter.port }}),
DOCKER_RUN_FLAGS (default: publish the port).
"""

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request

PORT = os.environ.get("PORT", "{{ cookiecutter.port }}")
# The service only needs settings that validate to start: /healthz touches no dependency
# (nothing listens on port 9). The ones it refuses to start without, the database's and
# authentication's:
DATABASE = {{ '["--env", "DATABASE_URL=postgresql://smoke@127.0.0.1:9/smoke"]' if cookiecutter.database == "postgresql" else "[]" }}
AUTH = {{ '["--env", "AUTH_ISSUER=http://127.0.0.1:9", "--env", "AUTH_AUDIENCE=smoke"]' if cookiecutter.auth == "oidc" else "[]" }}
ENVIRONMENT = DATABASE + AUTH


def docker(*args: str) -> str:
    command = [os.environ.get("DOCKER", "docker"), *args]
    # S603: the arguments are this script's own, not untrusted input.
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


def state(container: str) -> dict[str, object]:
    return json.loads(docker("inspect", container))[0]["State"]


def main(image: str) -> int:
    flags = shlex.split(os.environ.get("DOCKER_RUN_FLAGS", f"--publish {PORT}:{PORT}"))
    container = docker("run", "--detach", *flags, "--env", f"PORT={PORT}", *ENVIRONMENT, image)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1) as r:
                    print(f"/healthz answered {r.status}")
                    break
            except OSError:
                if time.monotonic() > deadline or not state(container)["Running"]:
                    print(docker("logs", container), file=sys.stderr)
                    print("error: the container never answered /healthz", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        started = time.monotonic()
        docker("stop", "--time", "10", container)
        exit_code = state(container)["ExitCode"]
        print(f"stopped in {time.monotonic() - started:.1f} s with exit code {exit_code}")
        # 143 is SIGTERM's default exit; 137 would mean it ignored SIGTERM and was killed.
        return 0 if exit_code in (0, 143) else 1
    finally:
        # --volumes: the anonymous volume of a SQLite image's /app/data goes with the container.
        docker("rm", "--force", "--volumes", container)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
