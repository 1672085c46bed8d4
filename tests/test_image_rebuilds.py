"""Rebuilding the images: what a one-line change or a stale lock does to a build, and the negative
controls, broken Dockerfiles (the incidents' among them) that the image checks must catch."""

import json
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.docker import Image, StartContainer, docker_cli, make_build, remove_image
from tests.image_checks import graceful_stop_problem, import_problem, non_root_problem
from tests.params import KEYS, image_params

pytestmark = pytest.mark.docker

NEGATIVE_CONTROLS = Path(__file__).parent / "negative_controls"
MIB = 1024 * 1024


# ---- rebuilds, per package manager ------------------------------------------------------------

REBUILT = image_params(KEYS[:2])  # one uv, one pip
DEPENDENCY_STEP = re.compile(
    r"^#(\d+) \[(?:build-)?dependencies \d+/\d+\] RUN .*(uv sync|--require-hashes)", re.MULTILINE
)


@pytest.fixture
def project_copy(image: Image, tmp_path: Path) -> Path:
    """A copy of the image's project that a test may change."""
    copy = tmp_path / image.project.name
    shutil.copytree(image.project, copy, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    return copy


def layer_bytes(tag: str) -> dict[str, int]:
    """Each layer's size as shipped (its uncompressed tar), by diff id, from `docker save`."""
    saved = subprocess.Popen([docker_cli(), "save", tag], stdout=subprocess.PIPE)
    sizes, config, manifest = {}, b"", b""
    with tarfile.open(fileobj=saved.stdout, mode="r|") as archive:
        for member in archive:
            if member.name.endswith("/layer.tar"):
                sizes[member.name] = member.size
            elif member.name == "manifest.json" or member.name.endswith(".json"):
                content = archive.extractfile(member).read()  # type: ignore[union-attr]
                if member.name == "manifest.json":
                    manifest = content
                elif b'"rootfs"' in content:
                    config = content
    saved.wait()
    layer_files = json.loads(manifest)[0]["Layers"]
    diff_ids = json.loads(config)["rootfs"]["diff_ids"]
    return {diff_id: sizes[name] for diff_id, name in zip(diff_ids, layer_files, strict=True)}


@pytest.mark.parametrize("image", REBUILT, indirect=True)
def test_a_source_change_reuses_the_dependency_layer_and_ships_under_a_megabyte(
    image: Image, project_copy: Path
) -> None:
    base, python = image.tag.rsplit(":", 1)[0], image.context["python_version"]
    # A baseline from this copy (all cached): a copy's directories have new timestamps.
    make_build(project_copy, f"{base}:before", python)
    app = next(project_copy.rglob(f"{image.package}/app.py"))
    app.write_text(app.read_text() + "# a one-line change\n")
    try:
        output = make_build(project_copy, f"{base}:after", python).stderr
        step = DEPENDENCY_STEP.search(output)
        assert step, output
        assert re.search(rf"^#{step[1]} CACHED", output, re.MULTILINE), "dependencies rebuilt"
        before, after = layer_bytes(f"{base}:before"), layer_bytes(f"{base}:after")
        shipped = {diff_id: size for diff_id, size in after.items() if diff_id not in before}
        # Besides the project's own files, only metadata-only layers may differ (a RUN that
        # touched /etc's timestamp, on bases without /etc/hosts): a few kilobytes at most.
        assert len([size for size in shipped.values() if size > 16 * 1024]) == 1, shipped
        assert sum(shipped.values()) <= MIB, f"a one-line change ships {shipped}"
    finally:
        remove_image(f"{base}:before")
        remove_image(f"{base}:after")


@pytest.mark.parametrize("image", REBUILT, indirect=True)
def test_a_lock_that_no_longer_matches_pyproject_fails_the_build(
    image: Image, project_copy: Path
) -> None:
    pyproject = project_copy / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "dependencies = [\n", 'dependencies = [\n    "rich>=13",\n', 1
        )
    )
    result = make_build(
        project_copy,
        f"{image.tag.rsplit(':', 1)[0]}:stale",
        image.context["python_version"],
        check=False,
    )
    expected = {
        "uv": "needs to be updated",
        "pip": "requirements.lock does not match pyproject.toml",
    }
    assert result.returncode != 0
    assert expected[image.context["package_manager"]] in result.stderr


# ---- negative controls: the broken images the checks above exist to catch ------------------------


@contextmanager
def control_build(
    image: Image, project_copy: Path, dockerfile: str, suffix: str
) -> Iterator[tuple[subprocess.CompletedProcess[str], Image]]:
    """Builds a deliberately broken Dockerfile on the image's project; yields result and image."""
    (project_copy / "Dockerfile.control").write_text(dockerfile)
    broken = Image(f"{image.tag.rsplit(':', 1)[0]}:{suffix}", image.key, project_copy, image.issuer)
    python = image.context["python_version"]
    try:
        yield make_build(project_copy, broken.tag, python, False, "Dockerfile.control"), broken
    finally:
        remove_image(broken.tag)


@pytest.mark.parametrize("image", image_params(KEYS[1:2]), indirect=True)
def test_incident_1_builder_without_the_package_directory_fails_the_build(
    image: Image, project_copy: Path
) -> None:
    """The first incident: `pip install .` with only pyproject.toml copied (flat, backend/)."""
    # The incident's project listed its package explicitly; package discovery would instead find
    # nothing and build an empty wheel, so restore the incident's declaration first.
    pyproject = project_copy / "pyproject.toml"
    discovery = '[tool.setuptools.packages.find]\nwhere = ["."]\ninclude = ["backend*"]\n'
    assert discovery in pyproject.read_text()
    pyproject.write_text(
        pyproject.read_text().replace(discovery, '[tool.setuptools]\npackages = ["backend"]\n')
    )
    dockerfile = (NEGATIVE_CONTROLS / "incident-1.Dockerfile").read_text()
    with control_build(image, project_copy, dockerfile, "incident-1") as (result, _):
        assert result.returncode != 0
        assert "package directory 'backend' does not exist" in result.stderr


@pytest.mark.parametrize("image", image_params(KEYS[2:3]), indirect=True)
def test_incident_2_editable_install_missing_at_runtime_is_caught_by_the_import_check(
    image: Image, project_copy: Path
) -> None:
    """The second incident's failure: the image builds, then the package can't be imported."""
    template = (NEGATIVE_CONTROLS / "incident-2.Dockerfile").read_text()
    dockerfile = template.replace("PACKAGE", image.package)
    with control_build(image, project_copy, dockerfile, "incident-2") as (result, broken):
        assert result.returncode == 0, result.stderr
        assert import_problem(broken) is not None


@pytest.mark.parametrize("image", image_params(KEYS[3:4]), indirect=True)
def test_root_user_and_shell_form_command_are_caught(
    image: Image, project_copy: Path, start: StartContainer
) -> None:
    ours = (project_copy / "Dockerfile").read_text()
    shell_form = f"CMD {image.command} serve"
    dockerfile = re.sub(r"^USER .*$", "", ours, flags=re.MULTILINE)
    dockerfile = re.sub(r"^CMD \[.*\]$", shell_form, dockerfile, flags=re.MULTILINE)
    assert shell_form in dockerfile and "\nUSER " not in dockerfile
    with control_build(image, project_copy, dockerfile, "root-shell") as (result, broken):
        assert result.returncode == 0, result.stderr
        assert non_root_problem(broken) is not None
        assert graceful_stop_problem(broken, start) is not None
