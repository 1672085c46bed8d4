"""Where a generated project's own commands (make install, lint, test, ...) run for its Python.

On this machine, with its interpreter (PATH or pyenv), where it has one. Otherwise in a container of
that version's base image (TEMPLATE_BASE_IMAGES): this is how 3.14 and 3.15 are proven on a host
that has neither, never by downloading Python. The container sees the project at the same path
and shares this machine's network (the tests' PostgreSQL) and uv cache; make and uv are this
machine's, copied into a thin layer over the base image (the "toolbox").
"""

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from harness.commands import TEMPLATE, MissingRequirement, run, tool
from harness.docker import base_images, docker_cli

TRUST_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT")


def find_python(version: str) -> str | None:
    """An interpreter for `version` on this machine: python3.X on PATH if it runs, else pyenv's."""
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob(f"{version}.*/bin/python{version}"))]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def python_executable(version: str) -> str:
    python = find_python(version)
    if python is None:
        raise MissingRequirement(
            f"Python {version} is needed and was not found (python{version} on PATH or pyenv)"
        )
    return python


def project_env(python_version: str) -> dict[str, str]:
    """Environment for a generated project's Makefile: the chosen Python, never a download."""
    python = python_executable(python_version)
    return {
        "PYTHON": python,  # pip projects
        "UV_PYTHON": python,  # uv projects
        "UV_PYTHON_DOWNLOADS": "never",
        "PATH": f"{Path(tool('uv')).parent}{os.pathsep}{os.environ['PATH']}",
    }


TOOLBOX_DOCKERFILE = """\
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}
COPY make uv uvx /usr/local/bin/
"""


def runs_in_container(version: str) -> bool:
    return find_python(version) is None


@functools.cache
def toolbox_image(version: str) -> str:
    """The base image of `version` with make and uv added (built once per worker, from cache)."""
    base = base_images().get(version)
    if base is None:
        raise MissingRequirement(
            f"Python {version} is not on this machine and TEMPLATE_BASE_IMAGES names no image "
            "for it: install it, or build one with scripts/build-base-images"
        )
    tag = f"template-toolbox-{TEMPLATE.name}:{version}"
    with tempfile.TemporaryDirectory() as context:
        for name, source in {
            "make": shutil.which("make"),
            "uv": tool("uv"),
            "uvx": tool("uvx"),
        }.items():
            if source is None:
                raise MissingRequirement(f"{name} not found on this machine")
            shutil.copy2(source, Path(context) / name)
        (Path(context) / "Dockerfile").write_text(TOOLBOX_DOCKERFILE)
        command = [docker_cli(), "build", "--quiet", "--tag", tag]
        command += ["--build-arg", f"PYTHON_IMAGE={base}", context]
        run(command, cwd=Path(context), env={"DOCKER_BUILDKIT": "1"})
    return tag


@functools.cache
def uv_cache_dir() -> str:
    return subprocess.run(
        [tool("uv"), "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()


def project_command(
    version: str,
    argv: list[str],
    project: Path,
    env: Mapping[str, str] | None = None,
    name: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line, and the environment to add to this process's, that run `argv` in
    `project` under Python `version`. `name` names the container, if it is one."""
    if not runs_in_container(version):
        return argv, {**project_env(version), **(env or {})}
    cache = uv_cache_dir()
    options = [
        "--rm",
        "--init",  # a signal to `docker run` reaches make, and make passes it on
        "--network=host",
        f"--volume={project}:{project}",
        f"--workdir={project}",
        f"--volume={cache}:{cache}",
    ]
    if name:
        options.append(f"--name={name}")
    container_env = {
        "PYTHON": f"python{version}",  # pip projects
        "UV_PYTHON": f"python{version}",  # uv projects
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_CACHE_DIR": cache,
        "UV_LINK_MODE": "copy",  # the cache and the project are separate mounts: no hard links
        # The CA bundle this machine's tools are told to trust (a TLS-intercepting proxy's, say)
        # is in the base image's system store, at the same path: requests and pip need telling.
        **{key: os.environ[key] for key in TRUST_VARIABLES if key in os.environ},
        **(env or {}),
    }
    options += [f"--env={key}={value}" for key, value in container_env.items()]
    return [docker_cli(), "run", *options, toolbox_image(version), *argv], {}
