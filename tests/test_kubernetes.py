"""Kubernetes: the generated kustomize base and overlays render with the real kustomize, match the
Kubernetes API schemas of every supported version strictly, pass a policy scanner (each skipped
check justified in the manifest and proven needed), and describe exactly the workload the image
is: its user, its port, its writable paths, its commands, its probes and its shutdown.

Needs kustomize, kubectl and checkov (.ci/run installs them: kubectl and kustomize from Debian's
packages, checkov in a venv of its own); no cluster. The template's GitHub workflow deploys a
generated project to a kind cluster, which needs node images this machine can't pull.
"""

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.baking import bake
from harness.commands import TEMPLATE, run, tool
from harness.docker import Image, engine
from harness.options import choices

# Not the default port, so nothing passes by accident.
PORT = "8123"
OVERLAYS = ("dev", "production")
# The Kubernetes versions whose schemas every overlay must match (the generated Makefile's list).
SUPPORTED_VERSIONS = ["1.32", "1.33", "1.34", "1.35", "1.36", "1.37"]
# Every policy check the manifests skip, and why; the same reasons are in the Deployment's
# checkov.io/skip annotations, and each skip is proven needed (the check fails without it).
SKIPPED_CHECKS = {
    "CKV_K8S_43": "image by digest: release tags are immutable; a pipeline may pin a digest",
    "CKV_K8S_15": "pull policy Always: the dev overlay's image is loaded into kind, not pulled",
}
SKIPPED_CHECKS_POSTGRESQL = {
    "CKV_K8S_35": "secrets as files: the service reads DATABASE_URL from its environment",
}
PRE_STOP_SECONDS = 5
TEMPLATE_WORKFLOW = TEMPLATE / ".github" / "workflows" / "template-ci.yml"
Manifests = list[dict[str, Any]]


def k8s_tool(name: str) -> str:
    """kustomize, kubectl or checkov: named by the environment (KUSTOMIZE=...) or on PATH."""
    found = os.environ.get(name.upper()) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: .ci/run installs it (install_kubernetes_tools)")
    return found


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A project with Kubernetes manifests per database, baked once for the module."""
    return {
        database: bake(
            tmp_path_factory.mktemp("bake"), database=database, port=PORT, kubernetes="yes"
        )
        for database in choices("database")
    }


@pytest.fixture(params=choices("database"))
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def project(projects: dict[str, Path], database: str) -> Path:
    return projects[database]


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


def expected_skips(database: str) -> dict[str, str]:
    return SKIPPED_CHECKS | (SKIPPED_CHECKS_POSTGRESQL if database == "postgresql" else {})


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


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


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


# ---- rendering and validation -----------------------------------------------------------------


def test_every_overlay_renders_and_matches_the_api_schemas_of_each_supported_version(
    project: Path, tmp_path: Path
) -> None:
    paths = write_rendered(project, tmp_path)
    makefile = (project / "mk/kubernetes.mk").read_text()
    listed = re.search(r"^K8S_VERSIONS \?= (.+)$", makefile, re.MULTILINE)
    assert listed and listed[1].split() == SUPPORTED_VERSIONS
    for version in SUPPORTED_VERSIONS:
        # --strict: a field the API doesn't know (a typo, a field from a newer release) fails.
        run([tool("kubernetes-validate"), "--strict", "--quiet", "--kubernetes-version", version,
             *map(str, paths)], cwd=tmp_path)  # fmt: skip


def test_the_validator_rejects_an_unknown_field(project: Path, tmp_path: Path) -> None:
    """Negative control: strict validation catches what kubectl would silently drop."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(render(project, "dev").replace("readOnlyRootFilesystem", "readOnlyRootFs"))
    result = run([tool("kubernetes-validate"), "--strict", "--quiet", "--kubernetes-version",
                  SUPPORTED_VERSIONS[-1], str(broken)], cwd=tmp_path, check=False)  # fmt: skip
    assert result.returncode != 0
    assert "readOnlyRootFs" in result.stdout + result.stderr


def test_kubectl_apply_k_builds_the_same_manifests_as_kustomize(project: Path) -> None:
    """`make k8s-apply` runs `kubectl apply -k`: its embedded kustomize must agree."""
    for overlay in OVERLAYS:
        embedded = run([k8s_tool("kubectl"), "kustomize", f"k8s/overlays/{overlay}"], cwd=project)
        ours = render(project, overlay)
        assert sorted(map(canonical, parse(embedded.stdout))) == sorted(map(canonical, parse(ours)))


def test_the_policy_scanner_passes_with_each_skipped_check_justified_and_needed(
    project: Path, database: str, tmp_path: Path
) -> None:
    (rendered := tmp_path / "rendered").mkdir()
    paths = write_rendered(project, rendered)
    report = checkov(rendered)
    assert report["passed"] > 100, report  # the Kubernetes checks ran, on both overlays
    assert report["failed"] == {}
    expected = expected_skips(database)
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


# ---- the workload ------------------------------------------------------------------------------


def test_the_pod_runs_hardened_as_the_images_user_with_only_tmp_and_data_writable(
    project: Path, database: str
) -> None:
    for overlay in OVERLAYS:
        spec = pod_spec(manifests := parse(render(project, overlay)))
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
            if database == "sqlite":
                assert "persistentVolumeClaim" in volumes[mounts.pop("/app/data")]
            assert mounts == {}, f"unexpected writable paths: {mounts}"


def test_configuration_comes_from_a_config_map_and_the_database_url_from_a_secret_never_committed(
    project: Path, database: str
) -> None:
    for overlay in OVERLAYS:
        documents = parse(render(project, overlay))
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
            if database == "postgresql":
                assert env == {"DATABASE_URL": {"secretKeyRef": {
                    "name": "my-service-database", "key": "DATABASE_URL"}}}  # fmt: skip
            else:
                assert env == {}


def test_migrations_run_before_the_server_in_an_init_container_exactly_with_a_database(
    project: Path, database: str
) -> None:
    spec = pod_spec(parse(render(project, "production")))
    init = spec.get("initContainers", [])
    if database == "none":
        assert init == []
        return
    (migrate,) = init
    assert migrate["command"] == ["my-service", "migrate"]
    assert migrate["image"] == spec["containers"][0]["image"]


def test_probes_shutdown_and_availability_are_matched_to_the_service(
    project: Path, database: str
) -> None:
    documents = parse(render(project, "production"))
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

    if database == "sqlite":  # one SQLite file, one writer: a single pod, replaced, not rolled
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


def egress_ports(policy: dict[str, Any]) -> set[tuple[int, str]]:
    """(port, protocol) of the egress rules, each to any address (a provider's addresses change)."""
    rules = policy["spec"].get("egress", [])
    assert all("to" not in rule for rule in rules), rules
    return {(port["port"], port["protocol"]) for rule in rules for port in rule["ports"]}


@pytest.mark.parametrize("auth", choices("auth"))
def test_with_authentication_the_pod_reaches_the_provider_and_all_else_it_needs(
    projects: dict[str, Path], database: str, auth: str, tmp_path: Path
) -> None:
    """An egress rule restricts the pod to the rules listed: with the provider's HTTPS and DNS
    come the database's port and the traces'. Without authentication egress isn't restricted."""
    project = projects[database] if auth == "oidc" else bake(
        tmp_path, database=database, port=PORT, kubernetes="yes", auth=auth)  # fmt: skip
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
            {(5432, "TCP")} if database == "postgresql" else set())  # fmt: skip


def test_each_overlay_has_its_namespace_and_image(project: Path) -> None:
    images = {}
    for overlay in OVERLAYS:
        documents = parse(render(project, overlay))
        (namespace,) = [d["metadata"]["name"] for d in documents if d["kind"] == "Namespace"]
        assert {d["metadata"].get("namespace") for d in documents if d["kind"] != "Namespace"} == {
            namespace}  # fmt: skip
        images[overlay] = pod_spec(documents)["containers"][0]["image"]
    # dev: what `make docker-build` tags, for `kind load docker-image`; production: a release.
    makefile = (project / "Makefile").read_text()
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
    projects: dict[str, Path],
) -> None:
    workflow = yaml.safe_load(
        (projects["postgresql"] / ".github/workflows/kubernetes.yml").read_text()
    )
    commands = [str(step.get("run", "")) for step in workflow["jobs"]["kubernetes"]["steps"]]
    assert "make k8s-validate" in commands


def test_the_template_workflow_deploys_to_kind_and_checks_readyz_through_the_service() -> None:
    workflow = yaml.safe_load(TEMPLATE_WORKFLOW.read_text())
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
