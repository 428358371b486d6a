"""deploy/ provides what the code needs: no docker daemon or cluster here, so the compose file,
the Helm values, the Dockerfile and the instance config are read and held against the code
(every variable it reads, found in its source) and against each other."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

import jsonschema
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
# (`jd-helix serve`, a service of its own, checked on its own below), with their commands.
READ_API = ("api", "cli/serve.py")
NOT_IN_THE_CODE_LOCATION = ("sandbox", "cli/sandbox.py", *READ_API)


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


def variables_read(*, under: tuple[str, ...] | None = None) -> set[str]:
    """Every variable name the package's modules read (all but NOT_IN_THE_CODE_LOCATION, or
    those under the paths `under`), as a literal or a module constant (of any module: constants are imported)."""
    trees = {path: ast.parse(path.read_text()) for path in PACKAGE.rglob("*.py")}
    constants = {name: value for tree in trees.values() for name, value in _module_constants(tree).items()}

    def chosen(path: Path) -> bool:
        relative = path.relative_to(PACKAGE).as_posix()

        def inside(paths: tuple[str, ...]) -> bool:
            return any(relative == p or relative.startswith(f"{p}/") for p in paths)

        return inside(under) if under else not inside(NOT_IN_THE_CODE_LOCATION)

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
API_VARIABLES = variables_read(under=READ_API)
INSTANCE = load(DEPLOY / "dagster.yaml")
INSTANCE_VARIABLES = env_references(INSTANCE) | env_references(load(DEPLOY / "workspace.yaml"))
COMPOSE = load(DEPLOY / "docker-compose.yaml")
HELM = load(DEPLOY / "helm" / "values.yaml")
USER_DEPLOYMENT = HELM["dagster-user-deployments"]["deployments"][0]
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def test_the_variables_are_found_in_the_code():
    # The extraction itself works: these are read in four different ways.
    assert {
        "JD_API_KEY",
        "VERKADA_API_BASE_URL",
        "JD_HELIX_DUCKDB_PATH",
        "JD_HELIX_LOOKBACK_HOURS",
        "JD_HELIX_START",
        "JD_HELIX_HISTORY_DAYS",
        "JD_HELIX_ALERT_WEBHOOK_URL",
    } <= CODE_VARIABLES
    assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "JD_HELIX_CODE_SERVER_HOST"} <= INSTANCE_VARIABLES


def compose_environment(service: str) -> dict[str, str]:
    return COMPOSE["services"][service].get("environment") or {}


def test_compose_gives_the_code_location_every_variable_the_code_reads():
    environment = compose_environment("code-location")
    assert set(environment) >= CODE_VARIABLES | INSTANCE_VARIABLES, sorted(CODE_VARIABLES - set(environment))
    for name in SECRETS | {"DAGSTER_PG_PASSWORD"}:  # from deploy/.env, never written in the file
        assert re.fullmatch(r"\$\{" + name + r"(:[-?][^}]*)?\}", environment[name]), (name, environment[name])


@pytest.mark.parametrize("service", ["webserver", "daemon"])
def test_compose_gives_the_webserver_and_daemon_the_instance_and_no_api_key(service):
    environment = compose_environment(service)
    assert set(environment) >= INSTANCE_VARIABLES
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
    assert set(env) >= CODE_VARIABLES, sorted(CODE_VARIABLES - set(env))
    for name in SECRETS:
        assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"]["key"] == name
    # The chart writes its own instance config and sets DAGSTER_PG_PASSWORD from its secret.
    assert HELM["postgresql"]["postgresqlScheme"] == INSTANCE["storage"]["postgres"]["postgres_db"]["scheme"]


RUN_K8S = HELM["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]


def test_helm_run_pods_get_the_code_locations_env_and_volumes_and_are_sized_as_the_values_say():
    # Not through includeConfigInLaunchedRuns: with it, the code location's container context
    # (its 250m/512Mi) would win over runK8sConfig (dagster-k8s K8sContainerContext.create_for_run).
    assert USER_DEPLOYMENT["includeConfigInLaunchedRuns"]["enabled"] is False
    assert RUN_K8S["containerConfig"]["env"] == USER_DEPLOYMENT["env"]
    assert RUN_K8S["containerConfig"]["volumeMounts"] == USER_DEPLOYMENT["volumeMounts"]
    assert RUN_K8S["podSpecConfig"]["volumes"] == USER_DEPLOYMENT["volumes"]
    assert RUN_K8S["containerConfig"]["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert USER_DEPLOYMENT["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    # The image runs as uid 10001: its group owns the volumes in every pod that writes them.
    useradd = re.search(r"useradd --uid (\d+)", DOCKERFILE)
    assert useradd is not None, "the image adds its user"
    user = useradd.group(1)
    assert RUN_K8S["podSpecConfig"]["securityContext"]["fsGroup"] == int(user)
    assert USER_DEPLOYMENT["podSecurityContext"]["fsGroup"] == int(user)


def test_step_logs_are_written_where_the_webserver_reads_them_in_both_deployments():
    # compose: the instance's compute-log folder is a volume of the code location (run workers) and the webserver.
    folder = compose_environment("code-location")["JD_HELIX_COMPUTE_LOG_DIR"]
    assert INSTANCE["compute_logs"]["config"]["base_dir"] == {"env": "JD_HELIX_COMPUTE_LOG_DIR"}
    volumes = {
        service: {v.split(":")[1]: v.split(":")[0] for v in COMPOSE["services"][service]["volumes"]}
        for service in ("code-location", "webserver")
    }
    assert (
        volumes["code-location"][folder] == volumes["webserver"][folder]
        and volumes["webserver"][folder] in COMPOSE["volumes"]
    )
    assert "mkdir -p" in DOCKERFILE and folder in DOCKERFILE, "the image's user owns the folder the volume starts from"
    # Helm: the same manager, on a claim the run pods and the webserver mount at its base_dir.
    manager = HELM["computeLogManager"]["config"]["customComputeLogManager"]
    assert (manager["module"], manager["class"]) == (
        INSTANCE["compute_logs"]["module"],
        INSTANCE["compute_logs"]["class"],
    )
    base_dir = manager["config"]["base_dir"]
    claim = load(DEPLOY / "helm" / "compute-logs-volume.yaml")["metadata"]["name"]
    for where, mounts, pod_volumes in (
        ("run pods", RUN_K8S["containerConfig"]["volumeMounts"], RUN_K8S["podSpecConfig"]["volumes"]),
        ("webserver", HELM["dagsterWebserver"]["volumeMounts"], HELM["dagsterWebserver"]["volumes"]),
    ):
        [mount] = [m for m in mounts if m["mountPath"] == base_dir]
        [volume] = [v for v in pod_volumes if v["name"] == mount["name"]]
        assert volume["persistentVolumeClaim"]["claimName"] == claim, where
    assert HELM["dagsterWebserver"]["nodeSelector"] == USER_DEPLOYMENT["nodeSelector"], "ReadWriteOnce: one node"


def test_compose_keeps_the_code_locations_host_name_across_redeploys():
    # Run workers record host:pid:start; the replacing container must see the old ones as its own host's.
    assert COMPOSE["services"]["code-location"]["hostname"]


def test_run_workers_store_a_ranged_runs_materializations_in_batches_in_both_deployments():
    batch_size = compose_environment("code-location")["DAGSTER_EVENT_BATCH_SIZE"]
    assert int(batch_size) >= 168, "a week of hours (the largest run) in one batch"
    assert helm_env()["DAGSTER_EVENT_BATCH_SIZE"]["value"] == batch_size


def test_helm_runs_pods_with_run_monitoring_and_the_duckdb_volume_on_one_node():
    assert HELM["runLauncher"]["type"] == "K8sRunLauncher"
    assert HELM["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    assert USER_DEPLOYMENT["codeServerArgs"] == [
        "-m",
        tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"],
    ]
    duckdb_dir = str(Path(helm_env()["JD_HELIX_DUCKDB_PATH"]["value"]).parent)
    [mount] = [m for m in USER_DEPLOYMENT["volumeMounts"] if m["mountPath"] == duckdb_dir]
    [volume] = [v for v in USER_DEPLOYMENT["volumes"] if v["name"] == mount["name"]]
    claim = load(DEPLOY / "helm" / "duckdb-volume.yaml")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # ReadWriteOnce: the code server and every run pod on the node that mounts the volume.
    assert RUN_K8S["podSpecConfig"]["nodeSelector"] == USER_DEPLOYMENT["nodeSelector"]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.mark.parametrize(
    "section, helm_section",
    [
        ("concurrency", ("concurrency",)),
        ("run_monitoring", ("dagsterDaemon", "runMonitoring")),
        ("run_retries", ("dagsterDaemon", "runRetries")),
    ],
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
    assert all(set(value) == {"env"} for key, value in database.items() if key != "scheme"), (
        "no literal connection values"
    )


IMAGE_CONFIG = {"deploy/dagster.yaml", "deploy/workspace.yaml", "deploy/requirements.lock"}
LOCK = (DEPLOY / "requirements.lock").read_text()


def locked_packages() -> dict[str, str]:
    return {
        m.group(1).lower().replace("_", "-"): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", LOCK, re.M)
    }


def test_the_image_installs_every_package_from_the_lock_with_hashes():
    runs = " && ".join(dockerfile_instructions("RUN"))
    assert "pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock" in runs
    assert "pip install --no-cache-dir --no-deps /wheels/*.whl" in runs, (
        "the project's wheel adds no package of its own"
    )
    locked = locked_packages()
    # Every direct dependency at the version pyproject.toml pins, every package with its hashes.
    for requirement in tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name, _, version = requirement.partition("==")
        if version:
            assert locked.get(name.lower().replace("_", "-")) == version, requirement
    assert len(re.findall(r"^[A-Za-z0-9_.-]+==", LOCK, re.M)) == len(locked) > 50
    for block in re.split(r"\n(?=[A-Za-z0-9_.-]+==)", LOCK.split("\n", 5)[-1]):
        if "==" in block.splitlines()[0]:
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_base_image_is_an_exact_release_and_the_build_context_sends_only_what_is_copied():
    [base] = re.findall(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), base
    assert all(
        line.split()[1] == "${BASE_IMAGE}"
        for line in DOCKERFILE.splitlines()
        if (line.startswith("FROM ") and " AS " not in line) or line.startswith("FROM ${")
    )
    ignore = [
        line for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert ignore[0] == "*", "everything is left out unless named"
    admitted = {line[1:].removesuffix("/**") for line in ignore if line.startswith("!")}
    copied = {
        source
        for line in dockerfile_instructions("COPY")
        if not line.startswith("--from")
        for source in line.split()[:-1]
    }
    assert admitted == copied, (admitted, copied)


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
    copied = {
        source
        for line in dockerfile_instructions("COPY")
        if not line.startswith("--from")
        for source in line.split()[:-1]
    }
    assert set(IMAGE_SOURCES) <= copied and not copied - set(IMAGE_SOURCES) - IMAGE_CONFIG
    assert image_command() == [
        "dagster",
        "code-server",
        "start",
        "-m",
        "jd_helix.definitions",
        "-h",
        "0.0.0.0",
        "-p",
        "4000",
    ]
    volume = dockerfile_instructions("VOLUME")[0].strip()
    duckdb_env_match = re.search(r"JD_HELIX_DUCKDB_PATH=(\S+)", " ".join(dockerfile_instructions("ENV")))
    assert duckdb_env_match is not None, "the image sets JD_HELIX_DUCKDB_PATH"
    duckdb_env = duckdb_env_match.group(1)
    assert str(Path(duckdb_env).parent) == volume


# The HTTP API (`jd-helix serve`): keys from the environment (or a keys file, which the
# deployments do not use), and the pipeline's DuckDB file through JD_HELIX_DUCKDB_PATH.
API_KEYS_FILE = "JD_HELIX_API_KEYS_FILE"
API_MANIFEST = {
    document["kind"]: document for document in yaml.safe_load_all((DEPLOY / "helm" / "api.yaml").read_text())
}


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
    assert not (SECRETS | {"DAGSTER_PG_PASSWORD"}) & set(environment), (
        "the API needs neither the JD/Verkada keys nor the instance"
    )
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
    assert (
        volume["persistentVolumeClaim"]["claimName"] == load(DEPLOY / "helm" / "duckdb-volume.yaml")["metadata"]["name"]
    )
    env = {entry["name"]: entry for entry in container["env"]}
    assert api_needs() <= set(env), sorted(api_needs() - set(env))
    assert env["JD_HELIX_DUCKDB_PATH"]["value"] == helm_env()["JD_HELIX_DUCKDB_PATH"]["value"]
    assert str(Path(env["JD_HELIX_DUCKDB_PATH"]["value"]).parent) == mount["mountPath"]
    assert env["JD_HELIX_API_KEYS"] == {
        "name": "JD_HELIX_API_KEYS",
        "valueFrom": {"secretKeyRef": {"name": "jd-helix-api-keys", "key": "JD_HELIX_API_KEYS"}},
    }
    assert not SECRETS & set(env)
    [port] = container["ports"]
    assert port["containerPort"] == serve_port(container["command"])
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [port["name"]]


# The chart's values schema, for the sections the values set (its sources are named in the file).
CHART_SCHEMA = json.loads((Path(__file__).parent / "dagster_chart_values_excerpt.schema.json").read_text())


def test_the_helm_values_fit_the_charts_schema():
    errors = sorted(jsonschema.Draft7Validator(CHART_SCHEMA).iter_errors(HELM), key=lambda e: list(e.path))
    assert not errors, [f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors]
    # The chart renders `concurrency:` (pools, the run queue) only when it is enabled: off by default.
    assert HELM["concurrency"]["enabled"] is True


def test_the_schema_check_fails_on_a_misplaced_or_misspelt_key():
    validator = jsonschema.Draft7Validator(CHART_SCHEMA)
    misspelt = {**HELM, "concurrency": {**HELM["concurrency"], "pools": {"defaultlimit": 1}}}
    misplaced = {**HELM, "runK8sConfig": RUN_K8S}
    unknown_manager = {**HELM, "computeLogManager": {"type": "LocalComputeLogManager", "config": {}}}
    for values in (misspelt, misplaced, unknown_manager):
        assert list(validator.iter_errors(values)), values


CRONJOBS = {d["metadata"]["name"]: d for d in yaml.safe_load_all((DEPLOY / "helm" / "cronjobs.yaml").read_text())}


def cronjob_pod(name: str) -> dict:
    return CRONJOBS[name]["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_kubernetes_backs_up_the_warehouse_hourly_on_its_node_into_a_claim_of_its_own():
    pod = cronjob_pod("jd-helix-backup")
    [container] = pod["containers"]
    image = USER_DEPLOYMENT["image"]
    assert container["image"] == f"{image['repository']}:{image['tag']}"
    assert container["command"][:2] == ["jd-helix", "backup"] and "--keep" in container["command"]
    assert pod["nodeSelector"] == USER_DEPLOYMENT["nodeSelector"], "ReadWriteOnce: where the warehouse is"
    env = {entry["name"]: entry for entry in container["env"]}
    assert env["JD_HELIX_DUCKDB_PATH"] == helm_env()["JD_HELIX_DUCKDB_PATH"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    assert claims[mounts[str(Path(env["JD_HELIX_DUCKDB_PATH"]["value"]).parent)]] == "jd-helix-duckdb"
    backup_dir = container["command"][container["command"].index("--to") + 1]
    assert claims[mounts[backup_dir]] == CRONJOBS["jd-helix-backups"]["metadata"]["name"]
    assert CRONJOBS["jd-helix-backup"]["spec"]["concurrencyPolicy"] == "Forbid"
    assert not SECRETS & set(env), "a backup needs no key"


def test_kubernetes_checks_the_daemon_from_outside_it_with_the_webhook_from_the_secret():
    pod = cronjob_pod("jd-helix-check-daemon")
    [container] = pod["containers"]
    assert container["command"][:2] == ["jd-helix", "check-daemon"]
    env = {entry["name"]: entry for entry in container["env"]}
    webhook = "JD_HELIX_ALERT_WEBHOOK_URL"
    ours, code_locations = env[webhook]["valueFrom"]["secretKeyRef"], helm_env()[webhook]["valueFrom"]["secretKeyRef"]
    assert (ours["name"], ours["key"]) == (code_locations["name"], code_locations["key"])
    assert "value" not in env[webhook] and "value" not in env["DAGSTER_PG_PASSWORD"]
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == HELM["global"]["postgresqlSecretName"]
    # The chart's instance (its ConfigMap) as DAGSTER_HOME's dagster.yaml.
    [mount] = container["volumeMounts"]
    assert mount["mountPath"] == f"{env['DAGSTER_HOME']['value']}/dagster.yaml"
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"].endswith("-instance")


def test_kubernetes_ends_tls_at_the_ingress_in_front_of_the_api_service():
    ingress, service = API_MANIFEST["Ingress"], API_MANIFEST["Service"]
    [service_port] = service["spec"]["ports"]
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts and sorted(hosts) == sorted(host for tls in ingress["spec"]["tls"] for host in tls["hosts"])
    assert all(tls["secretName"] for tls in ingress["spec"]["tls"])
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"] == {
                "name": service["metadata"]["name"],
                "port": {"name": service_port["name"]},
            }


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
