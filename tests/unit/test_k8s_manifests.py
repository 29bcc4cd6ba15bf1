"""infra/k8s: the base and the production overlay render, every built-in resource is valid against
the Kubernetes API schemas (kubernetes-validate, strict: no unknown field), the operator resources
(RabbitmqCluster, CloudNativePG Cluster and ScheduledBackup) carry the fields their operators
require, the pieces refer to each other correctly, and the YAML passes yamllint."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from shared.settings import SERVICES
from tests.unit.k8s_render import containers, pod_spec, render

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
LAYERS = ["base", "overlays/production"]
KUBERNETES_VERSION = "1.37.0"
PORTS = {"customers": 4101, "points": 4102, "referrals": 4103, "reviews": 4104, "notifications": 4105}
# Resources of the operators: their schemas are not in kubernetes-validate (see test_operator_resources).
OPERATOR_KINDS = {("rabbitmq.com", "RabbitmqCluster"), ("postgresql.cnpg.io", "Cluster"),
                  ("postgresql.cnpg.io", "ScheduledBackup")}


def key(resource):
    return resource["kind"], resource["metadata"]["name"]


@pytest.fixture(scope="module", params=LAYERS)
def layer(request):
    return request.param, render(K8S / request.param)


def by_kind(resources, kind):
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def group(resource):
    return resource["apiVersion"].split("/")[0] if "/" in resource["apiVersion"] else ""


def test_every_builtin_resource_is_valid_against_the_kubernetes_schemas(layer):
    _, resources = layer
    checked = 0
    for resource in resources:
        if (group(resource), resource["kind"]) in OPERATOR_KINDS:
            continue
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{key(resource)}: {exc.message} at {list(exc.path)}") from exc
        checked += 1
    assert checked >= 5 * 5 + 4  # five services' Deployment, Service, HPA, PDB, Job; the gateway's


def test_a_broken_resource_is_refused():
    """The validation above can fail: an unknown field and a wrong type are caught."""
    deployment = by_kind(render(K8S / "base"), "Deployment")["points"]
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    deployment = by_kind(render(K8S / "base"), "Deployment")["points"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_each_service_has_deployment_service_autoscaler_and_migration_job(layer):
    _, resources = layer
    deployments, services = by_kind(resources, "Deployment"), by_kind(resources, "Service")
    hpas, jobs = by_kind(resources, "HorizontalPodAutoscaler"), by_kind(resources, "Job")
    for name in [*SERVICES, "gateway"]:
        deployment = deployments[name]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items()
        assert services[name]["spec"]["selector"].items() <= pod_labels.items()
        port_names = {p["name"] for c in containers(deployment) for p in c.get("ports", [])}
        assert {p["targetPort"] for p in services[name]["spec"]["ports"]} <= port_names
        assert hpas[name]["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 2 <= hpas[name]["spec"]["minReplicas"] < hpas[name]["spec"]["maxReplicas"]
        (container,) = pod_spec(deployment)["containers"]
        assert container["resources"]["requests"].keys() >= {"cpu", "memory"}
        assert container["livenessProbe"]["httpGet"]["path"] in ("/healthz", "/healthcheck")
        assert container["readinessProbe"]["httpGet"]["path"] in ("/readyz?broker=optional", "/readiness")
    for name in SERVICES:
        (container,) = pod_spec(deployments[name])["containers"]
        assert container["command"][:2] == ["uvicorn", f"services.{name}.app:app"]
        assert (ROOT / "services" / name / "app.py").exists()
        assert services[name]["spec"]["ports"][0]["port"] == PORTS[name]
        assert (container["livenessProbe"]["httpGet"]["path"], container["readinessProbe"]["httpGet"]["path"]) == (
            "/healthz", "/readyz?broker=optional")
        (migrate,) = pod_spec(jobs[f"{name}-migrate"])["containers"]
        assert migrate["command"] == ["python", "-m", "shared.migrate", name]
        assert migrate["image"] == container["image"]


def test_references_between_resources_resolve(layer):
    name, resources = layer
    config_maps = by_kind(resources, "ConfigMap")
    # Secrets: ours (created out of band in production) and those the operators make.
    secrets = {"flywheel-secrets", "backup-credentials"}
    secrets |= {f"{c}-app" for c in by_kind(resources, "Cluster")}
    secrets |= {f"{r}-default-user" for r in by_kind(resources, "RabbitmqCluster")}
    operator_services = {f"{c}-rw" for c in by_kind(resources, "Cluster")} | set(by_kind(resources, "RabbitmqCluster"))
    for resource in resources:
        for container in containers(resource):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in secrets, (key(resource), ref)
                if env["name"] == "PG_HOST":
                    assert env["value"] in operator_services
    config = config_maps["flywheel-config"]["data"]
    assert config["AMQP_HOST"] in operator_services
    services = by_kind(resources, "Service")
    for service in SERVICES:  # the gateway reaches each subgraph through its Service
        assert config[f"{service.upper()}_URL"] == f"http://{service}:{PORTS[service]}/graphql"
        assert service in services
    if name == "overlays/production":
        assert "flywheel-secrets" not in by_kind(resources, "Secret")  # never a real secret in git
        assert config["FLYWHEEL_ENV"] == "production"
        for resource in resources:
            for container in containers(resource):
                assert re.fullmatch(r"[a-z0-9.-]+/[a-z0-9/._-]+:\d+\.\d+\.\d+", container["image"]), container["image"]


def test_operator_resources(layer):
    """RabbitmqCluster and the CloudNativePG resources are custom resources: kubernetes-validate has
    no schema for them and their CRDs are not on PyPI or npm, so the fields their operators
    require (and the ones Flywheel relies on) are checked here instead."""
    name, resources = layer
    (rabbit,) = by_kind(resources, "RabbitmqCluster").values()
    assert rabbit["apiVersion"] == "rabbitmq.com/v1beta1"
    assert rabbit["spec"]["replicas"] == 3  # quorum queues: a majority survives one node
    assert "default_queue_type = quorum" in rabbit["spec"]["rabbitmq"]["additionalConfig"]
    assert re.fullmatch(r"\d+(Gi|Mi)", rabbit["spec"]["persistence"]["storage"])
    clusters = by_kind(resources, "Cluster")
    assert set(clusters) == {f"{s}-db" for s in SERVICES}
    for service in SERVICES:
        cluster = clusters[f"{service}-db"]
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        spec = cluster["spec"]
        assert isinstance(spec["instances"], int) and spec["instances"] >= 2  # a primary and a replica
        assert re.fullmatch(r"\d+(Gi|Mi)", spec["storage"]["size"])
        assert spec["bootstrap"]["initdb"] == {"database": f"flywheel_{service}", "owner": "flywheel"}
        assert all(isinstance(v, str) for v in spec["postgresql"]["parameters"].values())
    if name == "overlays/production":
        backups = by_kind(resources, "ScheduledBackup")
        assert {b["spec"]["cluster"]["name"] for b in backups.values()} == set(clusters)
        for backup in backups.values():
            assert len(backup["spec"]["schedule"].split()) == 6  # the operator's cron has seconds
        for cluster in clusters.values():
            assert cluster["spec"]["instances"] == 3
            assert cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")


def test_the_manifests_pass_yamllint():
    config = YamlLintConfig(file=str(K8S / ".yamllint"))
    problems = [f"{path.relative_to(ROOT)}:{p.line}: {p.desc}"
                for path in sorted(K8S.rglob("*.yaml")) for p in linter.run(path.read_text(), config)]
    assert problems == []


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl here to compare the renderer with")
@pytest.mark.parametrize("name", LAYERS)
def test_the_python_renderer_agrees_with_kubectl_kustomize(name):
    result = subprocess.run(["kubectl", "kustomize", str(K8S / name)], capture_output=True, text=True)
    if result.returncode != 0 and "unknown command" in result.stderr:
        pytest.skip("this kubectl has no kustomize")
    assert result.returncode == 0, result.stderr
    theirs = [d for d in yaml.safe_load_all(result.stdout) if d]

    def index(resources):
        return {(r["apiVersion"], *key(r), r["metadata"].get("namespace")): r for r in resources}
    assert index(render(K8S / name)) == index(theirs)
