"""deploy/ provides what the code needs: no docker daemon or cluster here, so the compose file,
the Helm values, the Dockerfile and the instance config are read and held against the code
(every variable it reads, found in its source) and against each other."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from jd_helix_tests.deploy.topology import DEPLOY, PROJECT_ROOT
from jd_helix_tests.wheel import IMAGE_SOURCES

PACKAGE = PROJECT_ROOT / "jd_helix"
API_KEYS = {"JD_API_KEY", "VERKADA_API_KEY"}
# Secrets besides the API keys: the alert webhook's URL carries its own token.
SECRETS = API_KEYS | {"JD_HELIX_ALERT_WEBHOOK_URL"}


# The environment as the code names it: `os.environ`, or a parameter (`environ`, `environment`) defaulting to it.
ENVIRONMENTS = ("os.environ", "environ", "environment")


def _is_env_read(call: ast.Call) -> bool:
    func = ast.unparse(call.func)
    return func in ("os.getenv", "dg.EnvVar", "EnvVar", "_from_env") or func in {f"{e}.get" for e in ENVIRONMENTS}


# Not part of the Dagster deployment: the sandbox (never deployed) and the HTTP API
# (`jd-helix serve`, a service of its own, checked on its own below).
NOT_IN_THE_CODE_LOCATION = ("sandbox", "api")


def _module_constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _env_arguments(node: ast.AST) -> list[ast.expr]:
    """The expressions naming a variable at `node`, if it reads one: os.environ / os.getenv /
    EnvVar / _from_env, or a click option's `envvar=`."""
    if isinstance(node, ast.Call) and _is_env_read(node):
        return [*node.args[:1], *(keyword.value for keyword in node.keywords)]
    if isinstance(node, ast.Call):
        return [keyword.value for keyword in node.keywords if keyword.arg == "envvar"]
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) in ENVIRONMENTS:
        return [node.slice]
    return []


def variables_read(*, under: str | None = None) -> set[str]:
    """Every variable name the package's modules read (all but NOT_IN_THE_CODE_LOCATION, or
    those under `under`), as a literal or a module constant (of any module: constants are imported)."""
    trees = {path: ast.parse(path.read_text()) for path in PACKAGE.rglob("*.py")}
    constants = {name: value for tree in trees.values() for name, value in _module_constants(tree).items()}

    def chosen(path: Path) -> bool:
        top = path.relative_to(PACKAGE).parts[0]
        return top == under if under else top not in NOT_IN_THE_CODE_LOCATION

    names: set[str] = set()
    for path, tree in trees.items():
        if not chosen(path):
            continue
        for node in ast.walk(tree):
            for argument in _env_arguments(node):
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    names.add(argument.value)
                elif isinstance(argument, ast.Name) and argument.id in constants:
                    names.add(constants[argument.id])
    return {name for name in names if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)}


def env_references(config) -> set[str]:
    """The variables a Dagster yaml reads through `{env: NAME}`."""
    if isinstance(config, dict):
        if set(config) == {"env"}:
            return {config["env"]}
        return set().union(*(env_references(value) for value in config.values()))
    if isinstance(config, list):
        return set().union(*(env_references(value) for value in config))
    return set()


def load(path: Path):
    return yaml.safe_load(path.read_text())


CODE_VARIABLES = variables_read()
API_VARIABLES = variables_read(under="api")
INSTANCE = load(DEPLOY / "dagster.yaml")
INSTANCE_VARIABLES = env_references(INSTANCE) | env_references(load(DEPLOY / "workspace.yaml"))
COMPOSE = load(DEPLOY / "docker-compose.yaml")
HELM = load(DEPLOY / "helm" / "values.yaml")
USER_DEPLOYMENT = HELM["dagster-user-deployments"]["deployments"][0]
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def test_the_variables_are_found_in_the_code():
    # The extraction itself works: these are read in four different ways.
    assert {"JD_API_KEY", "VERKADA_API_BASE_URL", "JD_HELIX_DUCKDB_PATH", "JD_HELIX_LOOKBACK_HOURS",
            "JD_HELIX_START", "JD_HELIX_HISTORY_DAYS", "JD_HELIX_ALERT_WEBHOOK_URL"} <= CODE_VARIABLES
    assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "JD_HELIX_CODE_SERVER_HOST"} <= INSTANCE_VARIABLES


def compose_environment(service: str) -> dict[str, str]:
    return COMPOSE["services"][service].get("environment") or {}


def test_compose_gives_the_code_location_every_variable_the_code_reads():
    environment = compose_environment("code-location")
    assert CODE_VARIABLES | INSTANCE_VARIABLES <= set(environment), sorted(CODE_VARIABLES - set(environment))
    for name in SECRETS | {"DAGSTER_PG_PASSWORD"}:  # from deploy/.env, never written in the file
        assert re.fullmatch(r"\$\{" + name + r"(:[-?][^}]*)?\}", environment[name]), (name, environment[name])


@pytest.mark.parametrize("service", ["webserver", "daemon"])
def test_compose_gives_the_webserver_and_daemon_the_instance_and_no_api_key(service):
    environment = compose_environment(service)
    assert INSTANCE_VARIABLES <= set(environment)
    assert not SECRETS & set(environment), "only the code location (and its run workers) holds the keys"


def test_compose_services_and_the_duckdb_volume():
    services = COMPOSE["services"]
    assert {"postgres", "code-location", "webserver", "daemon"} <= set(services)
    code = services["code-location"]
    duckdb_dir = str(Path(code["environment"]["JD_HELIX_DUCKDB_PATH"]).parent)
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in code["volumes"]}  # path -> volume
    assert duckdb_dir in mounts and mounts[duckdb_dir] in COMPOSE["volumes"]
    assert code["command"] == image_command()
    assert services["postgres"]["environment"]["POSTGRES_DB"] == compose_environment("code-location")["DAGSTER_PG_DB"]


def helm_env() -> dict[str, dict]:
    return {entry["name"]: entry for entry in USER_DEPLOYMENT["env"]}


def test_helm_gives_the_user_deployment_every_variable_and_the_keys_from_a_secret():
    env = helm_env()
    assert CODE_VARIABLES <= set(env), sorted(CODE_VARIABLES - set(env))
    for name in SECRETS:
        assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"]["key"] == name
    # The chart writes its own instance config and sets DAGSTER_PG_PASSWORD from its secret.
    assert HELM["postgresql"]["postgresqlScheme"] == INSTANCE["storage"]["postgres"]["postgres_db"]["scheme"]
    assert USER_DEPLOYMENT["includeConfigInLaunchedRuns"]["enabled"] is True


def test_run_workers_store_a_ranged_runs_materializations_in_batches_in_both_deployments():
    batch_size = compose_environment("code-location")["DAGSTER_EVENT_BATCH_SIZE"]
    assert int(batch_size) >= 168, "a week of hours (the largest run) in one batch"
    assert helm_env()["DAGSTER_EVENT_BATCH_SIZE"]["value"] == batch_size


def test_helm_runs_pods_with_run_monitoring_and_the_duckdb_volume_on_one_node():
    assert HELM["runLauncher"]["type"] == "K8sRunLauncher"
    assert HELM["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    assert USER_DEPLOYMENT["codeServerArgs"] == ["-m", tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]]
    duckdb_dir = str(Path(helm_env()["JD_HELIX_DUCKDB_PATH"]["value"]).parent)
    [mount] = [m for m in USER_DEPLOYMENT["volumeMounts"] if m["mountPath"] == duckdb_dir]
    [volume] = [v for v in USER_DEPLOYMENT["volumes"] if v["name"] == mount["name"]]
    claim = load(DEPLOY / "helm" / "duckdb-volume.yaml")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # ReadWriteOnce: the code server and every run pod on the node that mounts the volume.
    run_pods = HELM["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["podSpecConfig"]
    assert run_pods["nodeSelector"] == USER_DEPLOYMENT["nodeSelector"]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.mark.parametrize(
    "section, helm_section",
    [("concurrency", ("concurrency",)), ("run_monitoring", ("dagsterDaemon", "runMonitoring")),
     ("run_retries", ("dagsterDaemon", "runRetries"))],
)
def test_helm_instance_settings_are_those_of_deploy_dagster_yaml(section, helm_section):
    helm = HELM
    for key in helm_section:
        helm = helm[key]

    def same(ours: dict, theirs: dict, where: str) -> None:
        for key, value in ours.items():
            assert camel(key) in theirs, f"{where}.{camel(key)} missing in the Helm values"
            if isinstance(value, dict):
                same(value, theirs[camel(key)], f"{where}.{camel(key)}")
            else:
                assert theirs[camel(key)] == value, f"{where}.{camel(key)}: {theirs[camel(key)]} != {value}"

    same(INSTANCE[section], helm, ".".join(helm_section))


def flatten(config: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_the_production_instance_keeps_every_setting_of_the_shipped_dagster_yaml():
    shipped = flatten(load(PROJECT_ROOT / "dagster.yaml"))
    production = flatten({k: v for k, v in INSTANCE.items() if k != "storage"})
    assert {k: production.get(k) for k in shipped} == shipped
    assert set(INSTANCE["storage"]) == {"postgres"}
    database = INSTANCE["storage"]["postgres"]["postgres_db"]
    assert all(set(value) == {"env"} for key, value in database.items() if key != "scheme"), "no literal connection values"


def dockerfile_instructions(name: str) -> list[str]:
    text = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(name + " ")]


def image_command() -> list[str]:
    return yaml.safe_load(dockerfile_instructions("CMD")[-1])  # the JSON form is valid YAML


def test_the_image_installs_the_wheel_non_editable_from_the_sources_the_tests_build():
    runs = " && ".join(dockerfile_instructions("RUN"))
    assert "pip wheel --no-deps --wheel-dir /wheels ." in runs  # as jd_helix_tests/wheel.py builds it
    assert re.search(r"pip install [^&]*/wheels/\*\.whl", runs)
    assert not re.search(r"(^|\s)(-e|--editable)(\s|$)", runs)
    copied = {source for line in dockerfile_instructions("COPY") if not line.startswith("--from")
              for source in line.split()[:-1]}
    assert set(IMAGE_SOURCES) <= copied and not copied - set(IMAGE_SOURCES) - {"deploy/dagster.yaml", "deploy/workspace.yaml"}
    assert image_command() == ["dagster", "code-server", "start", "-m", "jd_helix.definitions", "-h", "0.0.0.0", "-p", "4000"]
    volume = dockerfile_instructions("VOLUME")[0].strip()
    duckdb_env = re.search(r"JD_HELIX_DUCKDB_PATH=(\S+)", " ".join(dockerfile_instructions("ENV"))).group(1)
    assert str(Path(duckdb_env).parent) == volume


# The HTTP API (`jd-helix serve`): keys from the environment (or a keys file, which the
# deployments do not use), and the pipeline's DuckDB file through JD_HELIX_DUCKDB_PATH.
API_VARIABLES = variables_read(under="api")
API_KEYS_FILE = "JD_HELIX_API_KEYS_FILE"
API_MANIFEST = {document["kind"]: document for document in yaml.safe_load_all((DEPLOY / "helm" / "api.yaml").read_text())}


def api_needs() -> set[str]:
    return API_VARIABLES - {API_KEYS_FILE} | {"JD_HELIX_DUCKDB_PATH"}


def serve_port(command: list[str]) -> int:
    assert command[:2] == ["jd-helix", "serve"]
    assert tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]["jd-helix"]
    return int(command[command.index("--port") + 1])


def test_the_api_variables_are_found_in_the_code():
    assert {"JD_HELIX_API_KEYS", API_KEYS_FILE} <= API_VARIABLES  # os.environ and click's envvar=


def test_compose_runs_the_api_on_the_warehouse_volume_with_its_own_keys_only():
    api, code = COMPOSE["services"]["api"], COMPOSE["services"]["code-location"]
    environment = compose_environment("api")
    assert api_needs() <= set(environment), sorted(api_needs() - set(environment))
    assert re.fullmatch(r"\$\{JD_HELIX_API_KEYS:\?[^}]*\}", environment["JD_HELIX_API_KEYS"])
    assert not (SECRETS | {"DAGSTER_PG_PASSWORD"}) & set(environment), "the API needs neither the JD/Verkada keys nor the instance"
    assert environment["JD_HELIX_DUCKDB_PATH"] == compose_environment("code-location")["JD_HELIX_DUCKDB_PATH"]
    assert set(code["volumes"]) & set(api["volumes"]), "the same named volume at the same path as the code location"
    assert api["image"] == code["image"]
    port = serve_port(api["command"])
    assert api["ports"] == [f"127.0.0.1:{port}:{port}"], "plain HTTP: published on the host's loopback only"


def test_kubernetes_runs_the_api_beside_the_volume_with_the_user_deployments_image():
    deployment, service = API_MANIFEST["Deployment"], API_MANIFEST["Service"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    image = USER_DEPLOYMENT["image"]
    assert container["image"] == f"{image['repository']}:{image['tag']}"
    # ReadWriteOnce: on the node that mounts the claim, like the code server and the run pods.
    assert pod["nodeSelector"] == USER_DEPLOYMENT["nodeSelector"]
    [mount] = container["volumeMounts"]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["persistentVolumeClaim"]["claimName"] == load(DEPLOY / "helm" / "duckdb-volume.yaml")["metadata"]["name"]
    env = {entry["name"]: entry for entry in container["env"]}
    assert api_needs() <= set(env), sorted(api_needs() - set(env))
    assert env["JD_HELIX_DUCKDB_PATH"]["value"] == helm_env()["JD_HELIX_DUCKDB_PATH"]["value"]
    assert str(Path(env["JD_HELIX_DUCKDB_PATH"]["value"]).parent) == mount["mountPath"]
    assert env["JD_HELIX_API_KEYS"] == {
        "name": "JD_HELIX_API_KEYS", "valueFrom": {"secretKeyRef": {"name": "jd-helix-api-keys", "key": "JD_HELIX_API_KEYS"}}}
    assert not SECRETS & set(env)
    [port] = container["ports"]
    assert port["containerPort"] == serve_port(container["command"])
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [port["name"]]


def test_kubernetes_ends_tls_at_the_ingress_in_front_of_the_api_service():
    ingress, service = API_MANIFEST["Ingress"], API_MANIFEST["Service"]
    [service_port] = service["spec"]["ports"]
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts and sorted(hosts) == sorted(host for tls in ingress["spec"]["tls"] for host in tls["hosts"])
    assert all(tls["secretName"] for tls in ingress["spec"]["tls"])
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"] == {"name": service["metadata"]["name"], "port": {"name": service_port["name"]}}


def test_kubernetes_lets_only_the_ingress_controller_reach_the_api_and_the_api_reach_nothing():
    policy, deployment = API_MANIFEST["NetworkPolicy"], API_MANIFEST["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selected = policy["spec"]["podSelector"]["matchLabels"]
    assert selected.items() <= pod_labels.items()
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert policy["spec"]["egress"] == []  # it calls nothing: it reads its volume
    [allowed] = policy["spec"]["ingress"]
    [source] = allowed["from"]
    assert set(source) == {"namespaceSelector", "podSelector"}, "one peer: the controller's pods in its namespace"
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert allowed["ports"] == [{"protocol": "TCP", "port": serve_port(container["command"])}]
