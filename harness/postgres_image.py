"""A local stand-in for the official `postgres` image, for compose files that start one (the dev
container's database) on a machine that reaches no registry: this machine's PostgreSQL server
binaries and the libraries they link, on the bookworm base image (the Debian they were built
for), started the way the official image documents (POSTGRES_USER, POSTGRES_PASSWORD and
POSTGRES_DB make the first user and database; every address listens, password required)."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.commands import MissingRequirement, run
from harness.docker import base_images, docker_cli
from harness.postgres import postgres_bin

# glibc stays the base image's own: its loader and its libraries are one set.
GLIBC = re.compile(r"^(ld-linux|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl)\.so")
HOST_LIBS = "/opt/host-libs"  # the other libraries the binaries link, found through the runpath
DOCKERFILE = f"""\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
COPY root/ /
RUN useradd --system --uid 999 --home-dir /var/lib/postgresql postgres \\
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \\
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=BIN:$PATH PGDATA=/var/lib/postgresql/data LD_LIBRARY_PATH={HOST_LIBS} LANG=C.UTF-8
USER postgres
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
"""
ENTRYPOINT = """\
#!/bin/sh
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    printf '%s\\n' "$POSTGRES_PASSWORD" >/tmp/password
    initdb --username="$POSTGRES_USER" --pwfile=/tmp/password --auth-local=trust \\
        --auth-host=scram-sha-256 --no-sync >/dev/null
    rm /tmp/password
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "${POSTGRES_DB:-$POSTGRES_USER}" != postgres ]; then
        echo "CREATE DATABASE \\"${POSTGRES_DB:-$POSTGRES_USER}\\"" |
            postgres --single -D "$PGDATA" postgres >/dev/null
    fi
fi
exec postgres -c listen_addresses='*'
"""


def linked_libraries(binaries: list[Path]) -> set[Path]:
    """What the dynamic loader finds for these binaries here, glibc left out."""
    found = set()
    for binary in binaries:
        listing = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        for path in re.findall(r"=> (/\S+)", listing):
            if not GLIBC.match(Path(path).name):
                found.add(Path(path))
    return found


def build_postgres_image(tag: str) -> str:
    """Builds the stand-in as `tag` from this machine's server (Debian's postgresql package)."""
    base = base_images().get("3.11")
    if base is None or "bookworm" not in base:
        raise MissingRequirement(
            "the local postgres image is built on the bookworm base image (TEMPLATE_BASE_IMAGES "
            "3.11=...-bookworm, from scripts/build-base-images), the Debian of this machine's "
            "PostgreSQL"
        )
    bin_dir = Path(postgres_bin("postgres")).resolve().parent
    version_dir = bin_dir.parent  # /usr/lib/postgresql/15
    share = Path("/usr/share/postgresql") / version_dir.name
    with tempfile.TemporaryDirectory() as context:
        root = Path(context) / "root"
        for tree in (version_dir, share):
            shutil.copytree(tree, root / tree.relative_to("/"), symlinks=True)
        binaries = [*bin_dir.iterdir(), *(version_dir / "lib").glob("*.so")]
        for library in linked_libraries(binaries):
            (root / HOST_LIBS.lstrip("/")).mkdir(parents=True, exist_ok=True)
            shutil.copy2(library, root / HOST_LIBS.lstrip("/") / library.name)
        entrypoint = root / "usr/local/bin/postgres-entrypoint"
        entrypoint.parent.mkdir(parents=True)
        entrypoint.write_text(ENTRYPOINT)
        entrypoint.chmod(0o755)
        (Path(context) / "Dockerfile").write_text(DOCKERFILE.replace("BIN", str(bin_dir)))
        command = [docker_cli(), "build", "--quiet", "--tag", tag]
        run([*command, "--build-arg", f"BASE_IMAGE={base}", context], cwd=Path(context))
    return tag
