"""The deployment configurations parse and agree with the real server: probe and metrics paths
are routes a running ModelServer answers 200 on, ports are the server's, the Service selects the
Deployment's pods, the autoscaler targets it, and the Grafana dashboard they reference exists."""

import json
import re
from pathlib import Path

import pytest
import yaml

from tinytorch.core.mlops.serving import InferenceEndpoint, ModelServer
from tinytorch.core.mlops.serving.__main__ import main as serving_main
from tinytorch.core.training import train_digits_classifier

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENTS = ROOT / "deployments"


def load(path):
    return list(yaml.safe_load_all((DEPLOYMENTS / path).read_text()))


@pytest.fixture(scope="module")
def manifests():
    docs = [doc for path in sorted((DEPLOYMENTS / "kubernetes").glob("*.yaml")) for doc in load(path.relative_to(DEPLOYMENTS))]
    return {doc["kind"]: doc for doc in docs}


@pytest.fixture(scope="module")
def server():
    model, _ = train_digits_classifier(hidden=(16,), epochs=2, seed=0)
    with ModelServer(model, name="digits", port=0) as running:
        yield running


def container(manifests):
    (only,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def test_every_kind_is_there(manifests):
    assert {"Deployment", "Service", "HorizontalPodAutoscaler"} <= set(manifests)


def test_probes_use_v2_health_paths_the_server_answers(manifests, server):
    c = container(manifests)
    assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    client = InferenceEndpoint(server)
    for probe in ("livenessProbe", "readinessProbe"):
        assert client.request("GET", c[probe]["httpGet"]["path"])[0] == 200
    server.set_ready(False)  # draining: readiness fails, liveness holds (Kubernetes stops routing, no restart)
    try:
        assert client.request("GET", c["readinessProbe"]["httpGet"]["path"])[0] == 503
        assert client.request("GET", c["livenessProbe"]["httpGet"]["path"])[0] == 200
    finally:
        server.set_ready(True)


def test_ports_agree_with_the_server_default(manifests):
    import inspect

    default_port = inspect.signature(ModelServer).parameters["port"].default
    c = container(manifests)
    (port,) = c["ports"]
    assert port["containerPort"] == default_port
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["port"] == port["name"]
    service_port = manifests["Service"]["spec"]["ports"][0]
    assert service_port["targetPort"] == port["name"]
    annotations = manifests["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == default_port
    dockerfile = (DEPLOYMENTS / "docker" / "Dockerfile").read_text()
    assert re.search(rf"^EXPOSE {default_port}$", dockerfile, re.M)
    assert f"--port {default_port}" in dockerfile


def test_dockerfile_command_is_the_real_entry_point():
    dockerfile = (DEPLOYMENTS / "docker" / "Dockerfile").read_text()
    command = re.search(r'exec python -m (\S+) (.*?)"\]', dockerfile).group(2).replace('\\"', "")
    args = re.sub(r"\$\w+", "x", command).split()
    with pytest.raises(SystemExit) as exit_info:  # parses, then fails only on the missing file
        serving_main([*args, "--help"])
    assert exit_info.value.code == 0
    assert "/v2/health/ready" in dockerfile and "USER 10001" in dockerfile


def test_resources_and_autoscaling(manifests):
    resources = container(manifests)["resources"]
    assert set(resources) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(resources["limits"]) and {"cpu", "memory"} <= set(resources["requests"])
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["kind"] == "Deployment"
    assert hpa["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
    assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]


def test_service_selects_the_deployment_pods(manifests):
    selector = manifests["Service"]["spec"]["selector"]
    labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert manifests["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_prometheus_scrapes_the_metrics_path_the_server_serves(server):
    config = load("monitoring/prometheus.yml")[0]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    local = jobs["tinytorch-server"]
    status, body = InferenceEndpoint(server).request("GET", local["metrics_path"])
    assert status == 200 and b"# TYPE" in body
    (target,) = local["static_configs"][0]["targets"]
    assert target.endswith(":8080")


def test_grafana_dashboard_queries_series_the_server_exports(server):
    dashboard = json.loads((ROOT / "tinytorch/core/mlops/grafana_dashboard.json").read_text())
    assert "grafana_dashboard.json" in (DEPLOYMENTS / "README.md").read_text()
    text = InferenceEndpoint(server).request("GET", "/metrics")[1].decode()
    exported = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    queried = set(re.findall(r"\b(tinytorch_[a-z_]+?)(?:_bucket|_sum|_count)?\b", json.dumps(dashboard)))
    assert queried, "the dashboard queries no tinytorch series"
    unknown = {name for name in queried if not any(name.startswith(series) for series in exported)}
    assert not unknown, f"dashboard queries series the server does not export: {unknown}"
