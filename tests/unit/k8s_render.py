"""Renders infra/k8s kustomizations in Python for the manifest tests, because the kustomize binary
is not a package CI can install (no kustomize on PyPI, npm or Debian that is the real one).

Only the kustomize features infra/k8s uses, with kustomize's meaning: `resources` (files and
folders), `namespace`, `images`, and `patches` as strategic-merge patches matched by kind and name
or by a `target` (group, kind, name, labelSelector), including `$patch: delete`. Lists of named
items (containers, env) merge by name, other lists are replaced. A feature outside that set fails
loudly. Where `kubectl kustomize` exists, test_k8s_manifests checks this renderer against it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "PriorityClass", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}

Resource = dict[str, Any]


def render(folder: Path) -> list[Resource]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise ValueError(f"{folder}: kustomization fields this renderer does not know: {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (folder / entry).resolve()
        resources += render(path) if path.is_dir() else load(path)
    for patch in kustomization.get("patches", []):
        for doc in load(folder / patch["path"]):
            targets = [r for r in resources if matches(r, patch.get("target"), doc)]
            if not targets:
                raise ValueError(f"{folder}: patch {patch['path']} ({doc['kind']}) matches nothing")
            for target in targets:
                if doc.get("$patch") == "delete":
                    resources.remove(target)
                else:
                    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
                    merge(target, body)
    for image in kustomization.get("images", []):
        for resource in resources:
            for container in containers(resource):
                name = container["image"].split("@")[0].rsplit(":", 1)[0]
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    namespace = kustomization.get("namespace")
    if namespace:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = namespace
    return resources


def load(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def group(resource: Resource) -> str:
    api = resource["apiVersion"]
    return api.split("/")[0] if "/" in api else ""


def matches(resource: Resource, target: dict | None, patch: Resource) -> bool:
    if target is None:
        return (resource["kind"], resource["metadata"]["name"], group(resource)) == (
            patch["kind"], patch["metadata"]["name"], group(patch))
    if "kind" in target and resource["kind"] != target["kind"]:
        return False
    if "group" in target and group(resource) != target["group"]:
        return False
    if "name" in target and resource["metadata"]["name"] != target["name"]:
        return False
    if "labelSelector" in target:
        labels = resource["metadata"].get("labels", {})
        for term in target["labelSelector"].split(","):
            key, value = term.split("=")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def merge(into: dict, patch: dict) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        elif isinstance(value, list) and isinstance(into.get(key), list) and named(value) and named(into[key]):
            by_name = {item["name"]: item for item in into[key]}
            for item in value:
                if item["name"] in by_name:
                    merge(by_name[item["name"]], item)
                else:
                    into[key].append(copy.deepcopy(item))
        else:
            into[key] = copy.deepcopy(value)


def named(items: list) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def pod_spec(resource: Resource) -> dict | None:
    template = resource.get("spec", {}).get("template")
    if resource["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job") and template:
        return template["spec"]
    return None


def containers(resource: Resource) -> list[dict]:
    spec = pod_spec(resource)
    return [] if spec is None else spec.get("initContainers", []) + spec.get("containers", [])
