"""Kubernetes: the generated kustomize base, components and overlays render with the real
kustomize, match the Kubernetes API schemas of every supported version strictly, and describe
exactly the workload the image is: its user, its port, its writable paths, its commands, its
probes and its shutdown. The policies (a scanner's checks, the pod's network) are in
test_kubernetes_policies.py.

Needs kustomize and kubectl (.ci/run installs them from Debian's packages); no cluster. The
template's GitHub workflow deploys a generated project to a kind cluster, which needs node
images this machine can't pull.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.baking import bake
from harness.commands import TEMPLATE, run, tool
from harness.docker import Image, engine
from harness.options import choices
from tests.github_workflows import load
from tests.kubernetes_manifests import (
    OVERLAYS,
    PORT,
    app_deployment,
    config,
    container_port,
    k8s_tool,
    kinds,
    one,
    parse,
    pod_spec,
    render,
    write_rendered,
)

# The Kubernetes versions whose schemas every overlay must match (the generated Makefile's list).
SUPPORTED_VERSIONS = ["1.32", "1.33", "1.34", "1.35", "1.36", "1.37"]
PRE_STOP_SECONDS = 5
TEMPLATE_WORKFLOW = TEMPLATE / ".github" / "workflows" / "template-ci.yml"


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


# ---- rendering and validation -----------------------------------------------------------------


def test_every_overlay_renders_and_matches_the_api_schemas_of_each_supported_version(
    k8s_project: Path, tmp_path: Path
) -> None:
    paths = write_rendered(k8s_project, tmp_path)
    makefile = (k8s_project / "mk/kubernetes.mk").read_text()
    listed = re.search(r"^K8S_VERSIONS \?= (.+)$", makefile, re.MULTILINE)
    assert listed and listed[1].split() == SUPPORTED_VERSIONS
    for version in SUPPORTED_VERSIONS:
        # --strict: a field the API doesn't know (a typo, a field from a newer release) fails.
        run([tool("kubernetes-validate"), "--strict", "--quiet", "--kubernetes-version", version,
             *map(str, paths)], cwd=tmp_path)  # fmt: skip


def test_the_validator_rejects_an_unknown_field(k8s_project: Path, tmp_path: Path) -> None:
    """Negative control: strict validation catches what kubectl would silently drop."""
    broken = tmp_path / "broken.yaml"
    rendered = render(k8s_project, "dev")
    broken.write_text(rendered.replace("readOnlyRootFilesystem", "readOnlyRootFs"))
    result = run([tool("kubernetes-validate"), "--strict", "--quiet", "--kubernetes-version",
                  SUPPORTED_VERSIONS[-1], str(broken)], cwd=tmp_path, check=False)  # fmt: skip
    assert result.returncode != 0
    assert "readOnlyRootFs" in result.stdout + result.stderr


def test_kubectl_apply_k_builds_the_same_manifests_as_kustomize(k8s_project: Path) -> None:
    """`make k8s-apply` runs `kubectl apply -k`: its embedded kustomize must agree."""
    for overlay in OVERLAYS:
        command = [k8s_tool("kubectl"), "kustomize", f"k8s/overlays/{overlay}"]
        embedded = run(command, cwd=k8s_project)
        ours = render(k8s_project, overlay)
        assert sorted(map(canonical, parse(embedded.stdout))) == sorted(map(canonical, parse(ours)))


# ---- the workload ------------------------------------------------------------------------------


def test_the_pod_runs_hardened_as_the_images_user_with_only_tmp_and_data_writable(
    k8s_project: Path, k8s_database: str
) -> None:
    for overlay in OVERLAYS:
        spec = pod_spec(manifests := parse(render(k8s_project, overlay)))
        assert spec["automountServiceAccountToken"] is False
        assert one(manifests, "ServiceAccount")["automountServiceAccountToken"] is False
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True
            assert security["runAsUser"] == 10001 and security["runAsGroup"] == 10001
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["requests"] and container["resources"]["limits"]
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts.pop("/tmp")]
            if k8s_database == "sqlite":
                assert "persistentVolumeClaim" in volumes[mounts.pop("/app/data")]
            assert mounts == {}, f"unexpected writable paths: {mounts}"


def test_configuration_comes_from_a_config_map_and_the_database_url_from_a_secret_never_committed(
    k8s_project: Path, k8s_database: str
) -> None:
    for overlay in OVERLAYS:
        documents = parse(render(k8s_project, overlay))
        settings = config(documents)
        assert settings["PORT"] == PORT
        assert "DATABASE_URL" not in settings
        # The OpenID provider (auth=oidc, the default): placeholders the team fills in.
        assert (settings["AUTH_ISSUER"], settings["AUTH_AUDIENCE"]) == ("", "")
        assert "Secret" not in kinds(documents), "a Secret's value would be committed"
        spec = pod_spec(documents)
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            config_map = container["envFrom"][0]["configMapRef"]["name"]
            assert config_map == one(documents, "ConfigMap")["metadata"]["name"]
            env = {item["name"]: item["valueFrom"] for item in container.get("env", [])}
            if k8s_database == "postgresql":
                assert env == {"DATABASE_URL": {"secretKeyRef": {
                    "name": "my-service-database", "key": "DATABASE_URL"}}}  # fmt: skip
            else:
                assert env == {}


def test_migrations_run_before_the_server_in_an_init_container_exactly_with_a_database(
    k8s_project: Path, k8s_database: str
) -> None:
    spec = pod_spec(parse(render(k8s_project, "production")))
    init = spec.get("initContainers", [])
    if k8s_database == "none":
        assert init == []
        return
    (migrate,) = init
    assert migrate["command"] == ["my-service", "migrate"]
    assert migrate["image"] == spec["containers"][0]["image"]


def test_probes_shutdown_and_availability_are_matched_to_the_service(
    k8s_project: Path, k8s_database: str
) -> None:
    documents = parse(render(k8s_project, "production"))
    deployment = app_deployment(documents)
    spec = pod_spec(documents)
    (app,) = spec["containers"]
    paths = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    probes = {name: app[name]["httpGet"] for name in paths}
    assert {name: probe["path"] for name, probe in probes.items()} == paths
    assert {container_port(app, probe["port"]) for probe in probes.values()} == {int(PORT)}

    # preStop: the endpoints are updated before SIGTERM; then the drain fits in the grace period.
    assert app["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(PRE_STOP_SECONDS)]
    drain = int(config(documents)["GRACEFUL_SHUTDOWN_TIMEOUT"])
    assert spec["terminationGracePeriodSeconds"] > PRE_STOP_SECONDS + drain

    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = one(documents, "Service")
    assert service["spec"]["selector"].items() <= labels.items()
    (service_port,) = service["spec"]["ports"]
    assert container_port(app, service_port["targetPort"]) == int(PORT)
    spread = spec["topologySpreadConstraints"]
    assert "kubernetes.io/hostname" in {constraint["topologyKey"] for constraint in spread}
    assert all(c["labelSelector"]["matchLabels"].items() <= labels.items() for c in spread)
    policy = one(documents, "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    scrape = deployment["spec"]["template"]["metadata"]["annotations"]
    assert scrape["prometheus.io/scrape"] == "true" and scrape["prometheus.io/path"] == "/metrics"
    assert int(scrape["prometheus.io/port"]) == int(PORT)

    if k8s_database == "sqlite":  # one SQLite file, one writer: a single pod, replaced, not rolled
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        assert {"HorizontalPodAutoscaler", "PodDisruptionBudget"}.isdisjoint(kinds(documents))
        return
    assert "replicas" not in deployment["spec"], "the HorizontalPodAutoscaler owns the count"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    hpa = one(documents, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    budget = one(documents, "PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["maxUnavailable"] == 1


def test_each_overlay_has_its_namespace_and_image(k8s_project: Path) -> None:
    images = {}
    for overlay in OVERLAYS:
        documents = parse(render(k8s_project, overlay))
        (namespace,) = [d["metadata"]["name"] for d in documents if d["kind"] == "Namespace"]
        assert {d["metadata"].get("namespace") for d in documents if d["kind"] != "Namespace"} == {
            namespace}  # fmt: skip
        images[overlay] = pod_spec(documents)["containers"][0]["image"]
    # dev: what `make docker-build` tags, for `kind load docker-image`; production: a release.
    makefile = (k8s_project / "Makefile").read_text()
    assert f"IMAGE ?= {images['dev']}\n" in makefile
    assert images["production"].endswith("/my-service:0.1.0")


@pytest.mark.parametrize("kubernetes", choices("kubernetes"))
def test_the_option_adds_or_leaves_out_manifests_targets_readme_section_and_ci_job(
    tmp_path: Path, kubernetes: str
) -> None:
    project = bake(tmp_path, kubernetes=kubernetes)
    has_k8s = kubernetes == "yes"
    assert (project / "k8s").exists() == has_k8s
    assert ("k8s-validate" in run(["make", "help"], cwd=project).stdout) == has_k8s
    assert ("## Kubernetes" in (project / "README.md").read_text()) == has_k8s
    assert (project / ".github/workflows/kubernetes.yml").exists() == has_k8s


def test_the_generated_workflow_validates_the_manifests_with_the_makefile(
    k8s_projects: dict[str, Path],
) -> None:
    workflow = load(k8s_projects["postgresql"] / ".github/workflows/kubernetes.yml")
    commands = [str(step.get("run", "")) for step in workflow["jobs"]["kubernetes"]["steps"]]
    assert "make k8s-validate" in commands


def test_the_template_workflow_deploys_to_kind_and_checks_readyz_through_the_service() -> None:
    workflow = load(TEMPLATE_WORKFLOW)
    job = workflow["jobs"]["kind"]
    script = "\n".join(str(step.get("run", "")) for step in job["steps"])
    steps = ["kind create cluster", "make .*docker-build", "kind load docker-image",
             "secret generic", "make .*k8s-apply OVERLAY=dev", "rollout status"]  # fmt: skip
    for command in steps:
        assert re.search(command, script), command
    # Checked from a pod through the Service's cluster DNS name, not a port-forward to one pod.
    assert re.search(r"http://[\w$-]+\.[\w$-]+\.svc[\w.]*(:80)?/readyz", script)


# ---- the built image ---------------------------------------------------------------------------


@pytest.mark.docker
def test_the_workload_matches_the_built_image(image: Image) -> None:
    """User, port, writable paths and commands of the Deployment, against the image's config."""
    image_config = engine().images.get(image.tag).attrs["Config"]
    user, group = (int(part) for part in image_config["User"].split(":"))
    (exposed,) = image_config["ExposedPorts"]
    port = int(exposed.split("/")[0])
    assert exposed.endswith("/tcp")

    documents = parse(render(image.project, "dev"))
    spec = pod_spec(documents)
    (app,) = spec["containers"]
    assert spec["securityContext"]["runAsUser"] == user
    assert spec["securityContext"]["runAsGroup"] == group
    assert app["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert int(config(documents)["PORT"]) == port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container_port(app, app[probe]["httpGet"]["port"]) == port
    # The image's CMD serves (no command override); migrate is the same program.
    assert "command" not in app and "args" not in app
    for init in spec.get("initContainers", []):
        assert init["command"] == [image_config["Cmd"][0], "migrate"]
    # Every VOLUME of the image is mounted (the root filesystem is read-only).
    mounts = {mount["mountPath"] for mount in app["volumeMounts"]}
    assert set(image_config.get("Volumes") or {}) <= mounts
    assert app["image"] == f"{image.command}:dev"
