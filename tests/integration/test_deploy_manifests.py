"""The deployment files, checked offline (no cluster, no Docker engine): every kustomize overlay
of deploy/kubernetes/ renders with `kubectl kustomize` and validates against the Kubernetes API
schema (kubernetes-validate, strict: an unknown field fails) and KEDA's vendored CRDs
(tests/data/keda/); the properties the operator's guide (docs/deploy-kubernetes.md) promises hold
in what renders; `docker-compose config` accepts docker-compose.yml; deploy/Dockerfile runs as a
non-root user and has a HEALTHCHECK.

The tools come from Debian (`deploy/local/stack.sh install-deploy-tools`, run by `make test`):
`kubectl` (kubernetes-client; 1.20 on Debian 12, whose built-in kustomize is the oldest the
manifests are written for) and `docker-compose`. A missing tool fails the test, saying how to
install it. The one exception is a Debian release whose archive has no kubectl at all (the
kubernetes-client package ended with Debian 12): the rendering tests then skip, loudly, with
that reason; any kubectl on PATH makes them run.
"""

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from postroom_shared.metrics import DEFAULT_PORTS
from postroom_shared.topology import CONSUMERS, consumer_queue_names

REPO = Path(__file__).resolve().parent.parent.parent
KUBE = REPO / "deploy" / "kubernetes"
OVERLAYS = ("dev", "production")
WORKERS = ("fetcher", "converter", "replier")
SERVICES = ("api", *WORKERS)
# The oldest Kubernetes the manifests promise to work on (docs/deploy-kubernetes.md) and the
# newest schema kubernetes-validate ships.
KUBE_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
UID = 10001

Doc = dict[str, Any]


def _in_archive(*packages: str) -> bool:
    """Does apt know an installable version of one of `packages`?"""
    policy = subprocess.run(
        ["apt-cache", "policy", *packages], capture_output=True, text=True, check=False
    ).stdout
    return any(
        line.split(":", 1)[1].strip() not in ("", "(none)")
        for line in policy.splitlines()
        if line.strip().startswith("Candidate:")
    )


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None and name == "kubectl" and not _in_archive("kubernetes-client", "kubectl"):
        pytest.skip("this Debian release's archive has no kubectl (kubernetes-client or kubectl)")
    if path is None:
        pytest.fail(
            f"`{name}` is missing: install Debian's {package} (deploy/local/stack.sh"
            " install-deploy-tools, as `make test` does)"
        )
    return path


def _render(directory: Path) -> list[Doc]:
    done = subprocess.run(
        [_tool("kubectl", "kubernetes-client"), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@cache
def rendered(overlay: str) -> tuple[Doc, ...]:
    return tuple(_render(KUBE / "overlays" / overlay))


def _of(docs: tuple[Doc, ...], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


@cache
def _crd_schemas() -> dict[tuple[str, str], Doc]:
    """(apiVersion, kind) -> openAPIV3Schema of every vendored CRD version."""
    schemas = {}
    for path in sorted((REPO / "tests" / "data" / "keda").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            api_version = f"{crd['spec']['group']}/{version['name']}"
            schemas[api_version, crd["spec"]["names"]["kind"]] = version["schema"][
                "openAPIV3Schema"
            ]
    return schemas


def _unknown_fields(value: Any, schema: Doc, where: str) -> list[str]:
    """Fields the API server would prune (or reject under strict field validation): a key an
    object schema with `properties` does not declare, unless it preserves unknown fields."""
    if isinstance(value, list):
        items = schema.get("items", {})
        return [e for i, v in enumerate(value) for e in _unknown_fields(v, items, f"{where}[{i}]")]
    if not isinstance(value, dict):
        return []
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    found = []
    for key, item in value.items():
        if properties is not None and key in properties:
            found += _unknown_fields(item, properties[key], f"{where}.{key}")
        elif isinstance(extra, dict):
            found += _unknown_fields(item, extra, f"{where}.{key}")
        elif properties is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
            found.append(f"{where}.{key}")
    return found


def _validate(doc: Doc) -> None:
    schema = _crd_schemas().get((doc["apiVersion"], doc["kind"]))
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    if schema is not None:
        jsonschema.validate(doc, schema)
        # metadata is the API server's ObjectMeta, which the CRD schema leaves open
        body = {k: v for k, v in doc.items() if k != "metadata"}
        assert _unknown_fields(body, schema, name) == []
        return
    assert doc["apiVersion"].split("/")[0] in {"v1", "apps", "policy", "autoscaling"} | {
        "networking.k8s.io"
    }, f"{name}: no schema for {doc['apiVersion']}"
    for version in KUBE_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("directory", ["base", "autoscaling", *(f"overlays/{o}" for o in OVERLAYS)])
def test_every_kustomization_renders_and_validates(directory: str) -> None:
    docs = _render(KUBE / directory)
    assert docs
    for doc in docs:
        _validate(doc)


def test_the_keda_schema_check_rejects_what_keda_would_not_take() -> None:
    scaled = dict(_of(rendered("production"), "ScaledObject")["postroom-converter"])
    _validate(scaled)
    with pytest.raises(jsonschema.ValidationError):
        _validate({**scaled, "spec": {**scaled["spec"], "minReplicaCount": "two"}})
    with pytest.raises(AssertionError, match=r"spec\.minReplicas"):
        _validate({**scaled, "spec": {**scaled["spec"], "minReplicas": 2}})
    with pytest.raises(jsonschema.ValidationError):
        _validate({**scaled, "spec": {k: v for k, v in scaled["spec"].items() if k != "triggers"}})


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_is_a_locked_down_deployment_with_probes_and_resources(
    overlay: str,
) -> None:
    docs = rendered(overlay)
    deployments = _of(docs, "Deployment")
    assert set(deployments) == {f"postroom-{s}" for s in SERVICES}
    assert f"postroom-{overlay}" in _of(docs, "Namespace") or overlay == "production"
    for service in SERVICES:
        pod = deployments[f"postroom-{service}"]["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == UID
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        assert container["command"] == [f"postroom-{service}"]
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        }
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp"}
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}
        refs = [next(iter(ref.values()))["name"] for ref in container["envFrom"]]
        assert refs[1] == "postroom-secrets"
        assert refs[0] in _of(docs, "ConfigMap")
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        live, ready = container["livenessProbe"], container["readinessProbe"]
        if service == "api":
            assert ports == {"http": 8080}
            assert live["httpGet"] == {"path": "/healthz", "port": "http"}
            assert ready["httpGet"] == {"path": "/readyz?services=false", "port": "http"}
        else:
            # the port each service serves /metrics on when POSTROOM_METRICS_PORT is unset
            assert ports == {"metrics": DEFAULT_PORTS[service]}
            assert live["httpGet"] == {"path": "/metrics", "port": "metrics"}
            assert ready["exec"]["command"] == ["postroom", "health", service, "--local"]
    config = next(iter(_of(docs, "ConfigMap").values()))["data"]
    # probes and Prometheus reach /metrics and the API on the pod's IP
    assert config["POSTROOM_METRICS_HOST"] == config["POSTROOM_API_HOST"] == "0.0.0.0"
    assert "POSTROOM_METRICS_PORT" not in config


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_budgets_services_ingress_and_network_policies(overlay: str) -> None:
    docs = rendered(overlay)
    budgets = _of(docs, "PodDisruptionBudget")
    for name, deployment in _of(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()
        assert budgets[name]["spec"]["maxUnavailable"] == 1
    (service,) = _of(docs, "Service").values()
    assert service["spec"]["selector"]["app.kubernetes.io/name"] == "postroom-api"
    (ingress,) = _of(docs, "Ingress").values()
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": service["metadata"]["name"], "port": {"name": "http"}}
    policies = _of(docs, "NetworkPolicy")
    deny = policies["postroom-default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress_ports = {
        port["port"]
        for policy in policies.values()
        for rule in policy["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }
    assert {53, 5671, 5672, 27017, 443, 993, 587} <= egress_ports


def test_dev_is_one_replica_each_with_its_own_secret_and_no_autoscaling() -> None:
    docs = rendered("dev")
    assert {d["spec"]["replicas"] for d in _of(docs, "Deployment").values()} == {1}
    secret = _of(docs, "Secret")["postroom-secrets"]["stringData"]
    assert {"POSTROOM_STORE_URL", "POSTROOM_BROKER_URL", "POSTROOM_SECRET_KEY"} <= set(secret)
    assert len(secret["POSTROOM_SECRET_KEY"]) >= 32
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ScaledObject", "TriggerAuthentication", "HorizontalPodAutoscaler"}


def test_production_runs_replicas_autoscales_on_queue_depth_and_keeps_secrets_out() -> None:
    docs = rendered("production")
    # the Secret comes from outside the repository (kubectl create secret, External Secrets)
    assert not _of(docs, "Secret")
    deployments = _of(docs, "Deployment")
    assert all(d["spec"]["replicas"] >= 2 for d in deployments.values())
    (hpa,) = _of(docs, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "postroom-api"
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    scaled = _of(docs, "ScaledObject")
    assert set(scaled) == {"postroom-converter", "postroom-replier"}
    (auth,) = _of(docs, "TriggerAuthentication").values()
    assert auth["spec"]["secretTargetRef"][0]["name"] == "postroom-secrets"
    for name, obj in scaled.items():
        spec = obj["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert spec["minReplicaCount"] == deployments[name]["spec"]["replicas"]
        assert spec["minReplicaCount"] < spec["maxReplicaCount"]
        queues = {t["metadata"]["queueName"] for t in spec["triggers"]}
        assert queues <= set(consumer_queue_names())
        service = name.removeprefix("postroom-")
        # every event queue of the service is watched (its command queues carry console work)
        assert {f"{s}.{event}" for s, event in CONSUMERS if s == service} == queues
        assert {t["authenticationRef"]["name"] for t in spec["triggers"]} == {
            auth["metadata"]["name"]
        }
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert {"/etc/postroom/tls/rabbitmq", "/etc/postroom/tls/mongodb"} <= mounts
    (ingress,) = _of(docs, "Ingress").values()
    assert ingress["spec"]["tls"][0]["secretName"]


def _compose_config() -> Doc:
    env = dict(
        os.environ,
        POSTROOM_SECRET_KEY="s" * 32,
        POSTROOM_ADMIN_API_KEY="a" * 24,
    )
    compose = _tool("docker-compose", "docker-compose")
    done = subprocess.run(
        [compose, "-f", str(REPO / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    config: Doc = yaml.safe_load(done.stdout)
    return config


def test_compose_file_is_valid_with_health_checks_and_locked_down_services() -> None:
    services = _compose_config()["services"]
    for server in ("rabbitmq", "mongo", "mailserver"):
        assert services[server]["healthcheck"]["test"]
    for name in ("api", "fetcher", "converter", "replier", "seed"):
        service = services[name]
        assert service["read_only"] is True
        assert "/tmp" in service["tmpfs"]
        assert service["cap_drop"] == ["ALL"]
        # the image's HEALTHCHECK (postroom health self), not an override
        assert "healthcheck" not in service or name == "seed"
    for name in WORKERS:
        for server in ("rabbitmq", "mongo"):
            assert services[name]["depends_on"][server]["condition"] == "service_healthy"
        # the API starts once every worker is healthy, so after the broker and the store
        assert services["api"]["depends_on"][name]["condition"] == "service_healthy"
    seed_health = services["seed"]["healthcheck"]
    # docker-compose 1.x writes `disable: true` as Docker's own spelling
    assert seed_health.get("disable") is True or seed_health.get("test") == ["NONE"]


def test_dockerfile_runs_as_the_manifests_user_with_a_health_check() -> None:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    final = text.split("\nFROM ")[-1]
    users = re.findall(r"^USER\s+(\S+)", final, re.MULTILINE)
    assert users, "the runtime stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert users[-1] == f"{UID}:{UID}"
    health = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])$", final, re.MULTILINE | re.DOTALL)
    assert health is not None
    assert yaml.safe_load(health.group(1)) == ["postroom", "health", "self"]
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".state"} <= set(ignored)
