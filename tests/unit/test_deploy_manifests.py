"""deploy/ validated offline: every YAML parses, the compose file against the Compose
Specification JSON Schema (vendored), every Kubernetes manifest (base and overlay, assembled
here as kustomize would) against the Kubernetes JSON schemas bundled by kubernetes-validate,
and the cross-references between them and the code: settings, topics, ports, labels, images."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from contracts.topics import ALL_TOPICS, CANONICAL, DEAD_LETTER, INTAKE
from kit.settings import SERVICE_NAMES, Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
OVERLAYS = sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))
# The oldest Kubernetes version the manifests target (kubernetes-validate still bundles it),
# and the newest it bundles.
K8S_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())

Resource = dict[str, Any]

SETTINGS_ENV = {f"DN_{name.upper()}" for name in Settings.model_fields}
OTEL_ENV = {
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
}
SECRETS = {"DN_JWT_SECRET", "DN_MASTER_KEY"}
PROCESSES = {f"services.{name}.app": name for name in SERVICE_NAMES} | {"gateway.app": "gateway"}
APP_IMAGE = "dn-platform"


def port_of(process: str) -> int:
    settings = Settings()
    return settings.gateway_port if process == "gateway" else settings.service_port(process)


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def check_env_name(name: str, where: str) -> None:
    assert name in SETTINGS_ENV or name in OTEL_ENV, (
        f"{where}: {name} is neither a DN_* setting of kit/settings.py nor a known OTEL_* variable"
    )


def check_pinned(image: str, where: str) -> None:
    name, _, digest = image.partition("@")
    tag = name.rsplit("/", 1)[-1].partition(":")[2]
    assert digest or (tag and tag != "latest"), f"{where}: image {image!r} is not pinned"


def process_of(command: list[str]) -> str | None:
    return next((PROCESSES[arg] for arg in command if arg in PROCESSES), None)


def dialled_addresses(environment: dict[str, Any], where: str) -> dict[str, tuple[str, int]]:
    """Host and port a process with this environment dials for each service, as
    ``Settings.service_url`` resolves them (the environment only, not this machine's)."""
    fields = {
        key.removeprefix("DN_").lower(): value
        for key, value in environment.items()
        if key.startswith("DN_")
    }
    settings = Settings.model_validate(fields)
    addresses = {}
    for service in SERVICE_NAMES:
        url = urlsplit(settings.service_url(service))
        assert url.scheme == "http", f"{where}: {service} at {url.geturl()}"
        assert url.hostname, f"{where}: {service} at {url.geturl()}"
        assert url.port, f"{where}: {service} at {url.geturl()} names no port"
        assert url.path == "", f"{where}: {service} at {url.geturl()} has a path"
        addresses[service] = (url.hostname, url.port)
    return addresses


# -- every file ------------------------------------------------------------------------------


def test_deploy_holds_the_expected_files() -> None:
    for relative in (
        "compose.yaml",
        "Dockerfile",
        ".env.example",
        ".gitignore",
        "otel-collector.yaml",
        "prometheus.yml",
        "README.md",
        "schemas/compose-spec.json",
        "k8s/base/kustomization.yaml",
        "k8s/overlays/production/kustomization.yaml",
    ):
        assert (DEPLOY / relative).is_file(), relative


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_parses(path: Path) -> None:
    assert load_all(path), f"{path} is empty"


# -- docker compose --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    return loaded


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text("utf-8"))
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if process_of(service.get("command", [])) is not None
    }


def test_compose_runs_every_process_from_the_project_image(compose: dict[str, Any]) -> None:
    apps = app_services(compose)
    assert {process_of(s["command"]) for s in apps.values()} == set(PROCESSES.values())
    for name, service in apps.items():
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name
        assert service["env_file"] == [".env"], name
        env = service["environment"]
        for key in env:
            check_env_name(key, f"compose {name}")
        assert not SECRETS & set(env), f"{name}: secrets come from .env, never from compose.yaml"
        assert "replicaSet=rs0" in env["DN_MONGODB_URL"]
        assert env["DN_KAFKA_BOOTSTRAP"].count(":9092") == 3
        assert (env["DN_KAFKA_REPLICATION"], env["DN_KAFKA_PARTITIONS"]) == ("3", "12")
        assert env["DN_ENVIRONMENT"] == "production"
        collector = re.fullmatch(r"http://([\w-]+):4318", env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert collector, env["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert collector[1] in compose["services"]
        assert service["depends_on"]["kafka-topics"]["condition"] == (
            "service_completed_successfully"
        )
        assert service["depends_on"]["mongo-init"]["condition"] == "service_completed_successfully"


def test_compose_infrastructure(compose: dict[str, Any]) -> None:
    services = compose["services"]
    kafka = {n: s for n, s in services.items() if s.get("image", "").startswith("apache/kafka")}
    brokers = {n: s for n, s in kafka.items() if "KAFKA_NODE_ID" in s.get("environment", {})}
    assert len(brokers) == 3
    for broker in brokers.values():
        env = broker["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@") == 3
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    mongos = [s for s in services.values() if "--replSet" in s.get("command", [])]
    assert len(mongos) == 3
    init = "\n".join(services["mongo-init"]["command"])
    assert "rs.initiate" in init
    assert init.count("host:") == 3
    for name, service in services.items():
        if "image" in service:
            check_pinned(service["image"], f"compose {name}")
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and "secrets/" not in source:
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            elif not source.startswith(("./", "/")):
                assert source in compose["volumes"], f"{name}: unknown volume {source}"
    for image in ("otel/opentelemetry-collector-contrib", "jaegertracing/all-in-one", "prom/"):
        assert any(s.get("image", "").startswith(image) for s in services.values()), image
    topics = services["kafka-topics"]
    assert "./k8s/base/create-topics.sh:/opt/dn/create-topics.sh:ro" in topics["volumes"]
    for key in topics["environment"]:
        check_env_name(key, "compose kafka-topics")


def test_compose_runs_each_process_in_its_own_container(compose: dict[str, Any]) -> None:
    apps = app_services(compose)
    for name, service in apps.items():
        assert "network_mode" not in service, f"{name}: on the compose network, not another's"
        listen = ipaddress.ip_address(service["environment"]["DN_HOST"])
        assert listen.is_unspecified, f"{name} listens on all interfaces, not {listen}"
    published = {process_of(s["command"]): s.get("ports", []) for s in apps.values()}
    gateway = port_of("gateway")
    assert published.pop("gateway") == [f"{gateway}:{gateway}"]
    assert not any(published.values()), "only the gateway is published"


def test_compose_service_urls_name_the_services_that_run_them(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in app_services(compose).items():
        where = f"compose {name}"
        for target, (host, port) in dialled_addresses(service["environment"], where).items():
            assert host in services, (
                f"{where}: {target} at {host}, no compose service (DN_{target.upper()}_URL unset?)"
            )
            assert process_of(services[host].get("command", [])) == target, (
                f"{where}: {target} at {host}, which runs {services[host].get('command')}"
            )
            assert port == port_of(target), f"{where}: {target} at port {port}"
    # The gateway needs every service (its /healthz too): it starts once they are healthy.
    (gateway,) = [s for s in services.values() if process_of(s.get("command", [])) == "gateway"]
    for target, (host, _) in dialled_addresses(gateway["environment"], "gateway").items():
        assert gateway["depends_on"][host]["condition"] == "service_healthy", target


def test_prometheus_scrapes_every_process(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text("utf-8"))
    scraped: dict[str, dict[str, Any]] = {}
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.split(":")
                assert host in compose["services"], target
                process = process_of(compose["services"][host].get("command", []))
                if process is not None:
                    assert int(port) == port_of(process), target
                    scraped[process] = job
    for process in PROCESSES.values():
        assert process in scraped, f"Prometheus does not scrape {process}"
        assert scraped[process].get("metrics_path", "/metrics") == "/metrics"
    gateway = scraped["gateway"]
    assert gateway["authorization"]["type"] == "Bearer"
    token_file = gateway["authorization"]["credentials_file"]
    prometheus = next(s for s in compose["services"].values() if "prom/" in s.get("image", ""))
    assert any(v.split(":")[1] == token_file for v in prometheus["volumes"])


def test_otel_collector_receives_otlp_and_exports_to_jaeger(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text("utf-8"))
    http = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert http == "0.0.0.0:4318"
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    (exporter,) = pipeline["exporters"]
    assert exporter.startswith("otlp")
    host = config["exporters"][exporter]["endpoint"].split(":")[0]
    assert "jaegertracing" in compose["services"][host]["image"]
    for processor in pipeline["processors"]:
        assert processor in config["processors"]


def test_dockerfile_and_secrets_stay_out_of_git() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text("utf-8")
    bases = re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)
    assert bases
    assert all(b.startswith("python:3.11") and "slim" in b for b in bases)
    for base in bases:
        check_pinned(base, "Dockerfile")
    assert re.search(r"^USER (?!root|0\b)\S+", dockerfile, flags=re.M), "runs as non-root"
    assert "HEALTHCHECK" in dockerfile
    installs = re.findall(r"^RUN .*pip install.*$", dockerfile, flags=re.M)
    assert installs
    assert all("[dev]" not in line for line in installs), "no dev extras in the image"
    assert (DEPLOY / "healthcheck.py").is_file()
    assert {".env", "secrets/"} <= set((DEPLOY / ".gitignore").read_text("utf-8").split())
    example = (DEPLOY / ".env.example").read_text("utf-8")
    values = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    assert set(values) == SECRETS
    assert all(v == "change-me" for v in values.values()), "placeholders only"


# -- the topic script shared by compose and Kubernetes -----------------------------------------


def test_topic_script_creates_exactly_the_contract_topics() -> None:
    script = (BASE / "create-topics.sh").read_text("utf-8")
    created = dict(re.findall(r'^topic (\S+) "\$(\w+)"$', script, flags=re.M))
    assert set(created) == set(ALL_TOPICS)
    assert {created[t] for t in CANONICAL} == {"FOREVER"}
    assert {created[t] for t in (*INTAKE, DEAD_LETTER)} == {"WEEK"}
    assert "FOREVER=-1" in script
    assert "WEEK=604800000" in script
    assert "--if-not-exists" in script
    assert "min.insync.replicas=$MIN_ISR" in script
    for variable in set(re.findall(r"\$\{?(DN_\w+)", script)):
        check_env_name(variable, "create-topics.sh")


# -- Kubernetes: assembled as kustomize would ---------------------------------------------------


def deep_merge(target: Any, patch: Any) -> Any:
    """Strategic merge, simplified: maps merge, anything else (lists too) replaces."""
    if isinstance(target, dict) and isinstance(patch, dict):
        merged = dict(target)
        for key, value in patch.items():
            merged[key] = deep_merge(target[key], value) if key in target else value
        return merged
    return copy.deepcopy(patch)


def kustomize(directory: Path) -> list[Resource]:
    """The resources ``kubectl kustomize DIR`` would print, enough for these manifests:
    resources (files or bases), configMapGenerator, namespace, labels, images, replicas and
    strategic-merge patches. Generated ConfigMaps keep their name (no hash suffix)."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
    assert spec["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert spec["kind"] == "Kustomization"
    known = {
        "apiVersion",
        "kind",
        "namespace",
        "labels",
        "resources",
        "configMapGenerator",
        "images",
        "replicas",
        "patches",
    }
    assert set(spec) <= known, f"{directory}: unsupported fields {set(spec) - known}"
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        assert path.exists(), f"{directory}: missing resource {entry}"
        resources += kustomize(path) if path.is_dir() else load_all(path)
    for generator in spec.get("configMapGenerator", []):
        data = {}
        for file in generator["files"]:
            assert (directory / file).is_file(), f"{directory}: missing {file}"
            data[Path(file).name] = (directory / file).read_text("utf-8")
        meta = {"name": generator["name"]}
        resources.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
    for patch_entry in spec.get("patches", []):
        (patch,) = load_all(directory / patch_entry["path"])
        matches = [r for r in resources if (r["kind"], name(r)) == (patch["kind"], name(patch))]
        assert len(matches) == 1, f"patch {patch_entry['path']} matches {len(matches)}"
        resources[resources.index(matches[0])] = deep_merge(matches[0], patch)
    for rule in spec.get("replicas", []):
        (deployment,) = [
            r for r in resources if (r["kind"], name(r)) == ("Deployment", rule["name"])
        ]
        deployment["spec"]["replicas"] = rule["count"]
    for image in spec.get("images", []):
        for container in containers(resources):
            repository, _, tag = container["image"].partition(":")
            if repository == image["name"]:
                new = image.get("newName", repository)
                container["image"] = f"{new}:{image.get('newTag', tag)}"
    for label in spec.get("labels", []):
        assert not label.get("includeSelectors"), "selectors are left as written"
        for resource in resources:
            resource["metadata"].setdefault("labels", {}).update(label["pairs"])
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] != "Namespace":
                resource["metadata"]["namespace"] = spec["namespace"]
    return resources


def name(resource: Resource) -> str:
    value: str = resource["metadata"]["name"]
    return value


def config_map(resources: list[Resource], wanted: str) -> Resource:
    (found,) = [r for r in resources if (r["kind"], name(r)) == ("ConfigMap", wanted)]
    return found


def pod_labels(deployment: Resource) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def pod_specs(resources: list[Resource]) -> Iterator[tuple[Resource, dict[str, Any]]]:
    for resource in resources:
        if resource["kind"] in ("Deployment", "Job"):
            yield resource, resource["spec"]["template"]["spec"]


def containers(resources: list[Resource]) -> Iterator[dict[str, Any]]:
    for _, pod in pod_specs(resources):
        yield from pod.get("initContainers", [])
        yield from pod["containers"]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


ASSEMBLIES = {"base": BASE} | {f"overlays/{p.name}": p for p in OVERLAYS}


@pytest.fixture(scope="module", params=list(ASSEMBLIES), ids=list(ASSEMBLIES))
def assembled(request: pytest.FixtureRequest) -> list[Resource]:
    return kustomize(ASSEMBLIES[request.param])


def test_production_overlay_exists() -> None:
    assert "overlays/production" in ASSEMBLIES


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_match_the_kubernetes_schemas(assembled: list[Resource], version: str) -> None:
    for resource in assembled:
        kubernetes_validate.validate(resource, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_secret_example_matches_the_schema_and_is_not_applied(version: str) -> None:
    (secret,) = load_all(BASE / "secret.example.yaml")
    kubernetes_validate.validate(secret, version, strict=True)
    assert set(secret["stringData"]) == SECRETS
    assert set(secret["stringData"].values()) == {"REPLACE-ME"}
    spec = yaml.safe_load((BASE / "kustomization.yaml").read_text("utf-8"))
    assert "secret.example.yaml" not in spec["resources"]


def test_every_process_has_a_deployment_and_a_service(assembled: list[Resource]) -> None:
    deployed = {}
    for deployment in (r for r in assembled if r["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (app,) = [c for c in pod["containers"] if process_of(c["command"])]
        deployed[process_of(app["command"])] = deployment
    assert set(deployed) == set(PROCESSES.values())
    services = {name(s): s for s in assembled if s["kind"] == "Service"}
    for process, deployment in deployed.items():
        template = deployment["spec"]["template"]
        assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels(deployment))
        service = services[process]  # the name DN_<SERVICE>_URL dials (configmap.yaml)
        assert selects(service["spec"]["selector"], template["metadata"]["labels"])
        (port,) = service["spec"]["ports"]
        assert port["port"] == port_of(process)
        (app,) = [c for c in template["spec"]["containers"] if process_of(c["command"])]
        assert port["targetPort"] in {p["name"] for p in app["ports"]}
    for service in services.values():
        assert any(
            selects(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
            for d in deployed.values()
        ), f"Service {name(service)} selects no Deployment"


def test_processes_listen_where_probes_and_services_look(assembled: list[Resource]) -> None:
    for deployment in (r for r in assembled if r["kind"] == "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            process = process_of(container["command"])
            assert process, f"{name(deployment)}: unknown command {container['command']}"
            assert container["image"].split("/")[-1].startswith(f"{APP_IMAGE}:")
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert list(ports.values()) == [port_of(process)]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                check = container[probe]["httpGet"]
                assert check["path"] == "/healthz", f"{name(deployment)} {probe}"
                port = ports.get(check["port"], check["port"])
                assert port == port_of(process), f"{name(deployment)} {probe} port"
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"])
            assert {"cpu", "memory"} <= set(resources["limits"])


def test_configuration_names_exist_in_the_code(assembled: list[Resource]) -> None:
    config_maps = {name(r): r for r in assembled if r["kind"] == "ConfigMap"}
    (secret,) = load_all(BASE / "secret.example.yaml")
    for key in config_maps["dn-config"]["data"]:
        check_env_name(key, "ConfigMap dn-config")
    assert not SECRETS & set(config_maps["dn-config"]["data"]), "secrets belong in dn-secrets"
    assert config_maps["dn-config"]["data"]["DN_ENVIRONMENT"] == "production"
    assert int(config_maps["dn-config"]["data"]["DN_KAFKA_REPLICATION"]) == 3
    for owner, pod in pod_specs(assembled):
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            where = f"{name(owner)}/{container['name']}"
            for variable in container.get("env", []):
                check_env_name(variable["name"], where)
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == name(secret)
                    assert ref["key"] in secret["stringData"], where
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps, where
            mounts = {m["name"] for m in container.get("volumeMounts", [])}
            assert mounts <= {v["name"] for v in pod.get("volumes", [])}, where
            check_pinned(container["image"], where)
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, name(owner)
    registration = next(
        c for c in containers(assembled) if process_of(c.get("command", [])) == "registration"
    )
    assert "DN_MASTER_KEY" in {v["name"] for v in registration["env"]}
    others = [c for c in containers(assembled) if c is not registration]
    assert all("DN_MASTER_KEY" not in {v["name"] for v in c.get("env", [])} for c in others)


def test_service_urls_name_the_services_that_run_them(assembled: list[Resource]) -> None:
    namespace = next(r["metadata"]["namespace"] for r in assembled if r["kind"] == "Service")
    services = {name(s): s for s in assembled if s["kind"] == "Service"}
    runs = {
        process_of(c["command"]): d
        for d in assembled
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    data = config_map(assembled, "dn-config")["data"]
    for target, (host, port) in dialled_addresses(data, "ConfigMap dn-config").items():
        # A Service in this namespace: by its name alone, or by <name>.<namespace>.svc….
        service_name, _, rest = host.partition(".")
        unknown = f"{target} at {host}: no Service of {namespace} (DN_{target.upper()}_URL unset?)"
        assert rest in ("", namespace) or rest.startswith(f"{namespace}.svc"), unknown
        assert service_name in services, unknown
        service = services[service_name]
        (service_port,) = service["spec"]["ports"]
        assert port == service_port["port"], f"{target} at port {port}"
        assert selects(service["spec"]["selector"], pod_labels(runs[target])), (
            f"Service {service_name} does not select the pods running {target}"
        )
    for deployment in runs.values():  # every process reads the URLs
        (app,) = deployment["spec"]["template"]["spec"]["containers"]
        assert {"configMapRef": {"name": "dn-config"}} in app["envFrom"], name(deployment)


def test_autoscalers_and_disruption_budgets_target_what_exists(
    assembled: list[Resource],
) -> None:
    deployments = {name(r): r for r in assembled if r["kind"] == "Deployment"}
    partitions = int(config_map(assembled, "dn-config")["data"]["DN_KAFKA_PARTITIONS"])
    autoscalers = {name(r): r for r in assembled if r["kind"] == "HorizontalPodAutoscaler"}
    assert {"reporting", "gateway"} <= set(autoscalers)
    for autoscaler in autoscalers.values():
        target = autoscaler["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        assert target["name"] in deployments
        assert autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
    # One consumer group over the canonical topics: members beyond the partitions would idle.
    assert autoscalers["reporting"]["spec"]["maxReplicas"] <= partitions
    budgets = [r for r in assembled if r["kind"] == "PodDisruptionBudget"]
    covered = set()
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        matched = [d for d in deployments.values() if selects(selector, pod_labels(d))]
        assert matched, f"PDB {name(budget)} selects no pods"
        covered |= {name(d) for d in matched}
    assert covered == set(deployments)


def test_topic_job_runs_the_topic_script(assembled: list[Resource]) -> None:
    (job,) = [r for r in assembled if r["kind"] == "Job"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].startswith("apache/kafka:")
    (volume,) = pod["volumes"]
    script = config_map(assembled, volume["configMap"]["name"])
    assert "create-topics.sh" in script["data"]
    mount = container["volumeMounts"][0]["mountPath"]
    assert container["command"][-1] == f"{mount}/create-topics.sh"
    assert pod["restartPolicy"] in ("OnFailure", "Never")


def test_production_overlay_changes_image_and_replicas() -> None:
    resources = kustomize(K8S / "overlays" / "production")
    images = {c["image"] for c in containers(resources) if process_of(c.get("command", []))}
    assert len(images) == 1
    (image,) = images
    assert "/" in image, "the production image comes from a registry"
    check_pinned(image, "overlays/production")
    replicas = {name(r): r["spec"]["replicas"] for r in resources if r["kind"] == "Deployment"}
    assert replicas["reporting"] >= 2
    assert replicas["gateway"] >= 2
