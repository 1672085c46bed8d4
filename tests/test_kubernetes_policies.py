"""Kubernetes policies: the rendered overlays pass a policy scanner (checkov), each skipped check
justified in the manifest and proven needed; with authentication the pod's egress is limited to
what the service talks to.

Needs kustomize and checkov (.ci/run installs checkov in a venv of its own, as its pins clash
with the test venv's); no cluster.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.baking import bake
from harness.options import choices
from tests.kubernetes_manifests import (
    OVERLAYS,
    PORT,
    checkov,
    config,
    one,
    parse,
    render,
    write_rendered,
)

# Every policy check the manifests skip, and why; the same reasons are in the Deployment's
# checkov.io/skip annotations, and each skip is proven needed (the check fails without it).
SKIPPED_CHECKS = {
    "CKV_K8S_43": "image by digest: release tags are immutable; a pipeline may pin a digest",
    "CKV_K8S_15": "pull policy Always: the dev overlay's image is loaded into kind, not pulled",
}
SKIPPED_CHECKS_POSTGRESQL = {
    "CKV_K8S_35": "secrets as files: the service reads DATABASE_URL from its environment",
}


def expected_skips(database: str) -> dict[str, str]:
    return SKIPPED_CHECKS | (SKIPPED_CHECKS_POSTGRESQL if database == "postgresql" else {})


def test_the_policy_scanner_passes_with_each_skipped_check_justified_and_needed(
    k8s_project: Path, k8s_database: str, tmp_path: Path
) -> None:
    (rendered := tmp_path / "rendered").mkdir()
    paths = write_rendered(k8s_project, rendered)
    report = checkov(rendered)
    assert report["passed"] > 100, report  # the Kubernetes checks ran, on both overlays
    assert report["failed"] == {}
    expected = expected_skips(k8s_database)
    assert {name: set(skips) for name, skips in report["skipped"].items()} == {
        path.name: set(expected) for path in paths
    }
    for skips in report["skipped"].values():
        assert all(len(reason) > 20 for reason in skips.values()), skips

    # Without the skip annotations exactly those checks fail: no skip is there for nothing.
    (bare := tmp_path / "bare").mkdir()
    for path in paths:
        documents = parse(path.read_text())
        for document in documents:
            annotations = document["metadata"].get("annotations", {})
            for name in [a for a in annotations if a.startswith("checkov.io/skip")]:
                del annotations[name]
        (bare / path.name).write_text(yaml.safe_dump_all(documents))
    assert set(checkov(bare)["failed"]) == set(expected)


def egress_ports(policy: dict[str, Any]) -> set[tuple[int, str]]:
    """(port, protocol) of the egress rules, each to any address (a provider's addresses change)."""
    rules = policy["spec"].get("egress", [])
    assert all("to" not in rule for rule in rules), rules
    return {(port["port"], port["protocol"]) for rule in rules for port in rule["ports"]}


@pytest.mark.parametrize("auth", choices("auth"))
def test_with_authentication_the_pod_reaches_the_provider_and_all_else_it_needs(
    k8s_projects: dict[str, Path], k8s_database: str, auth: str, tmp_path: Path
) -> None:
    """An egress rule restricts the pod to the rules listed: with the provider's HTTPS and DNS
    come the database's port and the traces'. Without authentication egress isn't restricted."""
    project = k8s_projects[k8s_database] if auth == "oidc" else bake(
        tmp_path, database=k8s_database, port=PORT, kubernetes="yes", auth=auth)  # fmt: skip
    for overlay in OVERLAYS:
        documents = parse(render(project, overlay))
        policy = one(documents, "NetworkPolicy")
        assert ("AUTH_ISSUER" in config(documents)) == (auth == "oidc")
        if auth == "none":
            assert policy["spec"]["policyTypes"] == ["Ingress"]
            assert "egress" not in policy["spec"]
            continue
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        expected = {(53, "UDP"), (53, "TCP"), (443, "TCP"), (4318, "TCP")}
        assert egress_ports(policy) == expected | (
            {(5432, "TCP")} if k8s_database == "postgresql" else set())  # fmt: skip
