"""The generated Kubernetes manifests as the tests read them: a project baked per database, each
overlay rendered with the real kustomize (the project's own `make k8s-render`), and the parts of
the rendered documents the tests look at. Shared by test_kubernetes.py (the manifests are valid
and describe the image's workload), test_kubernetes_policies.py (security policies) and
test_worker.py."""

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.baking import bake
from harness.commands import run
from harness.options import choices

# Not the default port, so nothing passes by accident.
PORT = "8123"
OVERLAYS = ("dev", "production")
Manifests = list[dict[str, Any]]


def bake_each_database(output: pytest.TempPathFactory, **answers: str) -> dict[str, Path]:
    """A project with Kubernetes manifests per database."""
    return {
        database: bake(
            output.mktemp("bake"), database=database, port=PORT, kubernetes="yes", **answers
        )
        for database in choices("database")
    }


def k8s_tool(name: str) -> str:
    """kustomize, kubectl or checkov: named by the environment (KUSTOMIZE=...) or on PATH."""
    found = os.environ.get(name.upper()) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: .ci/run installs it (install_kubernetes_tools)")
    return found


def render(project: Path, overlay: str) -> str:
    """The overlay as the project's own `make k8s-render` prints it, with the real kustomize."""
    kustomize = k8s_tool("kustomize")
    command = ["make", "--silent", "k8s-render", f"OVERLAY={overlay}", f"KUSTOMIZE={kustomize}"]
    return run(command, cwd=project).stdout


def parse(text: str) -> Manifests:
    return [document for document in yaml.safe_load_all(text) if document]


def one(documents: Manifests, kind: str) -> dict[str, Any]:
    found = [document for document in documents if document["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def kinds(documents: Manifests) -> set[str]:
    return {document["kind"] for document in documents}


def write_rendered(project: Path, directory: Path) -> list[Path]:
    paths = []
    for overlay in OVERLAYS:
        path = directory / f"{overlay}.yaml"
        path.write_text(render(project, overlay))
        paths.append(path)
    return paths


def app_deployment(documents: Manifests) -> dict[str, Any]:
    """The service's Deployment: the one whose pods its Service selects (a worker's it doesn't)."""
    selector = one(documents, "Service")["spec"]["selector"].items()
    deployments = [document for document in documents if document["kind"] == "Deployment"]
    return one(
        [d for d in deployments if selector <= d["spec"]["template"]["metadata"]["labels"].items()],
        "Deployment",
    )


def pod_spec(documents: Manifests) -> dict[str, Any]:
    return dict(app_deployment(documents)["spec"]["template"]["spec"])


def config(documents: Manifests) -> dict[str, str]:
    return dict(one(documents, "ConfigMap")["data"])


def container_port(container: dict[str, Any], port: int | str) -> int:
    """A port by number or by the container's name for it."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(number)


def checkov(directory: Path) -> dict[str, Any]:
    """checkov's Kubernetes checks on the rendered files in a directory, offline (no policy
    download, no platform): {passed: n, failed: {id: [resource]}, skipped: {file: {id: why}}}."""
    result = run(
        [k8s_tool("checkov"), "--framework", "kubernetes", "--directory", str(directory),
         "--output", "json", "--skip-download", "--compact"],
        cwd=directory, check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)["results"]
    failed: dict[str, list[str]] = {}
    for check in report["failed_checks"]:
        failed.setdefault(check["check_id"], []).append(check["resource"])
    skipped: dict[str, dict[str, str]] = {}
    for check in report["skipped_checks"]:
        reason = check["check_result"].get("suppress_comment", "")
        skipped.setdefault(Path(check["file_path"]).name, {})[check["check_id"]] = reason
    return {"passed": len(report["passed_checks"]), "failed": failed, "skipped": skipped}
