"""``docker-compose.yml``: one node by default, a ``cluster`` profile of three nodes the API and workers all use,
and privacy in transit in both: the API serves HTTPS, and OpenSearch runs its security plugin.

There is no Docker engine here to start it, so these tests read the file as Compose would
(YAML anchors and merge keys resolved, ``${VAR:-default}`` and ``${VAR:?error}`` interpolated)
and check what each service needs: nodes that find each other, data of their own, clients
configured with every node and a replica, TLS everywhere with certificates the services find in
their own mounts, and no password in the file. ``deploy/make-certs.sh`` runs for real (openssl),
and its certificates are checked with real TLS handshakes under the names the services use.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.server import tls_context
from plugin.config import Config

REPO = Path(__file__).resolve().parents[2]
NODES = ("opensearch-node1", "opensearch-node2", "opensearch-node3")
OPENSEARCH_CONFIG = "/usr/share/opensearch/config"
PASSWORD = "Test-only-password-1!"
#: ``${NAME}``, ``${NAME:-default}`` or ``${NAME:?error}``, as Compose interpolates them.
VARIABLE = re.compile(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(text: str, environment: Mapping[str, str]) -> str:
    """*text* with its variables replaced as Compose does; ``$$`` is a literal ``$`` for the container's shell."""

    def value(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if environment.get(name):
            return environment[name]
        if operator == ":?":
            raise MissingVariable(f"{name}: {argument}")
        return argument or ""

    return "$".join(VARIABLE.sub(value, part) for part in text.split("$$"))


def compose(environment: Mapping[str, str]) -> dict[str, Any]:
    """The services as Compose sees them under *environment*."""
    text = interpolate((REPO / "docker-compose.yml").read_text(), environment)
    services: dict[str, Any] = yaml.safe_load(text)["services"]
    return services


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The certificates ``deploy/make-certs.sh`` makes for a shop at shop.example."""
    directory = tmp_path_factory.mktemp("compose") / "certs"
    subprocess.run(
        ["sh", str(REPO / "deploy" / "make-certs.sh"), "shop.example"],
        env={**os.environ, "LOOKALIKE_CERTS_DIR": str(directory)}, check=True, capture_output=True, timeout=120,
    )
    return directory


@pytest.fixture(scope="module")
def services(certs: Path) -> dict[str, Any]:
    return compose({"OPENSEARCH_INITIAL_ADMIN_PASSWORD": PASSWORD, "LOOKALIKE_CERTS_DIR": str(certs)})


@pytest.fixture(scope="module")
def raw_services() -> dict[str, Any]:
    """The services before interpolation: what the repository holds."""
    services: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    return services


def host_path(service: dict[str, Any], container_path: str) -> Path:
    """Where *container_path* of *service* lies on the host, through its bind mounts; fails when none holds it."""
    for volume in service.get("volumes", []):
        if isinstance(volume, dict) and volume["type"] == "bind" and (container_path + "/").startswith(volume["target"].rstrip("/") + "/"):
            source = Path(volume["source"])
            return (source if source.is_absolute() else REPO / source) / os.path.relpath(container_path, volume["target"])
    pytest.fail(f"{container_path} is in no bind mount of the service")


def container_config(service: dict[str, Any]) -> Config:
    """The service's configuration as ``lookalike`` reads it in its container: files it names are looked up through its mounts."""
    environment = {}
    for key, value in service["environment"].items():
        if value is None:  # `KEY:` with nothing after it: Compose passes the shell's KEY, unset here
            continue
        value = str(value)
        if value.startswith("/") and key.endswith(("_CERT", "_KEY", "_CERTS")):
            value = str(host_path(service, value))
        environment[key] = value
    return Config.from_env(environment)


def opensearch_services(services: dict[str, Any]) -> dict[str, Any]:
    return {name: service for name, service in services.items() if service["image"].startswith("opensearchproject/opensearch:")}


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> str:
    """A real TLS handshake between the two contexts, the client checking *hostname*; the version agreed."""
    left, right = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server.wrap_socket(left, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(right, server_hostname=hostname) as tls:
            version = tls.version() or ""
            tls.sendall(b"x")
    finally:
        thread.join(timeout=10)
        left.close()
    assert not errors, errors
    return version


def trusting(ca: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    return context


def test_the_default_stack_is_one_node_and_the_cluster_stays_off(services: dict[str, Any]) -> None:
    default = sorted(name for name, service in services.items() if "profiles" not in service)

    assert default == ["api", "beat", "opensearch", "opensearch-dashboards", "redis", "worker"]
    assert services["opensearch"]["environment"]["discovery.type"] == "single-node"
    assert services["api"]["environment"]["OPENSEARCH_URL"] == "https://opensearch:9200"


def test_the_cluster_profile_has_three_nodes_that_find_each_other_with_data_of_their_own(services: dict[str, Any]) -> None:
    nodes = [services[name] for name in NODES]

    assert all(node["profiles"] == ["cluster"] for node in nodes)
    assert [node["environment"]["node.name"] for node in nodes] == list(NODES)
    for node in nodes:
        environment = node["environment"]
        assert "discovery.type" not in environment
        assert environment["cluster.name"] == "lookalike"
        assert environment["discovery.seed_hosts"].split(",") == list(NODES)
        assert environment["cluster.initial_cluster_manager_nodes"].split(",") == list(NODES)
    assert len({node["volumes"][0].split(":")[0] for node in nodes}) == 3
    assert len({node["ports"][0] for node in nodes}) == 3


@pytest.mark.parametrize("name", ["api-cluster", "worker-cluster"])
def test_the_clusters_api_and_workers_use_every_node_with_a_replica(services: dict[str, Any], name: str) -> None:
    service = services[name]

    config = container_config(service)

    assert service["profiles"] == ["cluster"]
    assert config.opensearch_urls == tuple(f"https://{node}:9200" for node in NODES)
    assert (config.index_shards, config.index_replicas) == (3, 1)
    assert sorted(service["depends_on"]) == sorted([*NODES, "redis"])
    assert service["image"] == services["worker"]["image"]  # the same image, scaled with --scale


def test_compose_refuses_to_start_without_the_opensearch_password(certs: Path) -> None:
    with pytest.raises(MissingVariable, match="OPENSEARCH_INITIAL_ADMIN_PASSWORD"):
        compose({"LOOKALIKE_CERTS_DIR": str(certs)})


def test_no_password_is_in_the_repository(raw_services: dict[str, Any]) -> None:
    for name, service in raw_services.items():
        for key, value in service.get("environment", {}).items():
            if "PASSWORD" in key:  # only ever the environment's, and required
                assert re.fullmatch(r"\$\{OPENSEARCH_INITIAL_ADMIN_PASSWORD:\?[^}]+\}", str(value)), (name, key)
        healthcheck = " ".join(service.get("healthcheck", {}).get("test", []))
        if " -u " in healthcheck:  # expanded by the container's shell, never written here
            assert '-u "admin:$$OPENSEARCH_INITIAL_ADMIN_PASSWORD"' in healthcheck, name


def test_every_opensearch_node_runs_its_security_plugin_with_our_certificates(services: dict[str, Any], certs: Path) -> None:
    nodes = opensearch_services(services)
    assert sorted(nodes) == sorted(["opensearch", *NODES])
    for name, node in nodes.items():
        environment = node["environment"]
        assert environment["OPENSEARCH_INITIAL_ADMIN_PASSWORD"] == PASSWORD
        assert "DISABLE_SECURITY_PLUGIN" not in environment and "plugins.security.disabled" not in environment, name
        # No demo set-up: its certificate keys are public and its demo users have known passwords.
        assert environment["DISABLE_INSTALL_DEMO_CONFIG"] == "true"
        assert "plugins.security.allow_unsafe_democertificates" not in environment
        assert environment["plugins.security.ssl.http.enabled"] == "true"
        assert environment["plugins.security.nodes_dn"] == "CN=opensearch"
        for layer in ("http", "transport"):
            files = [host_path(node, f"{OPENSEARCH_CONFIG}/{environment[f'plugins.security.ssl.{layer}.{kind}_filepath']}")
                     for kind in ("pemcert", "pemkey", "pemtrustedcas")]
            assert files == [certs / "opensearch" / "node.pem", certs / "opensearch" / "node-key.pem", certs / "opensearch" / "ca.pem"]
            assert all(file.is_file() for file in files)
        # The entrypoint that writes the one user is the repository's, mounted into the image.
        assert node["entrypoint"] == ["bash", "/usr/share/opensearch/lookalike-entrypoint.sh"]
        assert host_path(node, node["entrypoint"][1]) == REPO / "deploy" / "opensearch-entrypoint.sh"
        health = node["healthcheck"]["test"][1]
        assert "https://localhost:9200/" in health and "--cacert config/certs/ca.pem" in health and "-k" not in health.split()


def test_the_nodes_certificate_is_trusted_under_every_name_clients_use(certs: Path) -> None:
    node = tls_context(certs / "opensearch" / "node.pem", certs / "opensearch" / "node-key.pem")
    clients = trusting(certs / "trust" / "ca.pem")

    for hostname in ("opensearch", *NODES, "localhost", "127.0.0.1"):
        assert handshake(node, clients, hostname) in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(node, clients, "elsewhere.example")


@pytest.mark.parametrize("name", ["api", "api-cluster"])
def test_the_api_serves_https_with_its_mounted_certificate_and_trusts_opensearch_by_our_ca(services: dict[str, Any], certs: Path, name: str) -> None:
    service = services[name]

    config = container_config(service)

    assert config.serve.tls_cert == certs / "api" / "tls.pem" and config.serve.tls_key == certs / "api" / "tls-key.pem"
    assert all(url.startswith("https://") for url in config.opensearch_urls)
    assert (config.opensearch_user, config.opensearch_password) == ("admin", PASSWORD)
    assert config.verify_certs and config.ca_certs == str(certs / "trust" / "ca.pem")
    # The server loads them, and a client trusting the CA reaches it by the shop's name and by localhost (the healthcheck).
    server = tls_context(config.serve.tls_cert, config.serve.tls_key)
    for hostname in ("shop.example", "localhost"):
        handshake(server, trusting(certs / "trust" / "ca.pem"), hostname)
    assert service["command"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    assert "https://localhost:8000/health" in service["healthcheck"]["test"][1]


@pytest.mark.parametrize("name", ["worker", "worker-cluster"])
def test_workers_reach_opensearch_over_verified_tls_and_serve_nothing(services: dict[str, Any], certs: Path, name: str) -> None:
    config = container_config(services[name])

    assert all(url.startswith("https://") for url in config.opensearch_urls)
    assert config.verify_certs and config.ca_certs == str(certs / "trust" / "ca.pem")
    assert config.serve.tls_cert is None
    # Only the CA: no service mounts another's key, and none the CA's own.
    assert [volume["source"] for volume in services[name]["volumes"]] == [str(certs / "trust")]


def test_no_service_mounts_the_cas_key(services: dict[str, Any], certs: Path) -> None:
    sources = [Path(volume["source"]) for service in services.values() for volume in service.get("volumes", []) if isinstance(volume, dict)]
    key = certs / "private" / "ca-key.pem"

    assert sources and not any(key.is_relative_to(source) for source in sources)


def test_dashboards_reaches_opensearch_over_verified_tls(services: dict[str, Any], certs: Path) -> None:
    dashboards = services["opensearch-dashboards"]
    environment = dashboards["environment"]

    assert environment["OPENSEARCH_HOSTS"] == '["https://opensearch:9200"]'
    assert environment["OPENSEARCH_SSL_VERIFICATIONMODE"] == "full"
    assert host_path(dashboards, environment["OPENSEARCH_SSL_CERTIFICATEAUTHORITIES"]) == certs / "trust" / "ca.pem"
    assert dashboards["ports"] == ["127.0.0.1:5601:5601"]  # no login of its own: this machine only


def test_make_certs_keeps_private_keys_private_and_out_of_git(certs: Path) -> None:
    keys = [certs / "api" / "tls-key.pem", certs / "opensearch" / "node-key.pem", certs / "private" / "ca-key.pem"]

    assert all(stat.S_IMODE(key.stat().st_mode) == 0o600 for key in keys)
    assert all(key.read_text().startswith("-----BEGIN PRIVATE KEY-----") for key in keys[:2])  # PKCS#8, as OpenSearch reads
    assert (certs / ".gitignore").read_text() == "*\n"


def test_the_opensearch_entrypoint_leaves_one_user_with_the_hashed_password(tmp_path: Path) -> None:
    # The image's hashing tool (Java, in the security plugin) and entrypoint are stood in for: only the script's own steps run.
    home = tmp_path / "opensearch"
    tools = home / "plugins" / "opensearch-security" / "tools"
    users = home / "config" / "opensearch-security" / "internal_users.yml"
    tools.mkdir(parents=True)
    users.parent.mkdir(parents=True)
    users.write_text("kibanaserver:\n  hash: \"$2a$12$4AcgAt3xwOWadA5s5blL6ev39OXDNhmOesEoo33eZtrq2N0YrU3H.\"\n")  # a demo user
    (tools / "hash.sh").write_text('echo "** banner **"\n[ "$1" = -env ] && printf \'$2y$12$hash-of-%s\\n\' "${#OPENSEARCH_INITIAL_ADMIN_PASSWORD}"\n')
    (home / "opensearch-docker-entrypoint.sh").write_text('#!/bin/sh\necho "started with: $*"\n')
    (home / "opensearch-docker-entrypoint.sh").chmod(0o755)
    script = str(REPO / "deploy" / "opensearch-entrypoint.sh")
    environment = {"PATH": os.environ["PATH"], "OPENSEARCH_HOME": str(home)}
    bash = shutil.which("bash") or "bash"

    started = subprocess.run([bash, script, "opensearch"], env={**environment, "OPENSEARCH_INITIAL_ADMIN_PASSWORD": PASSWORD},
                             capture_output=True, text=True, timeout=30)
    refused = subprocess.run([bash, script], env=environment, capture_output=True, text=True, timeout=30)

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "started with: opensearch"
    written = yaml.safe_load(users.read_text())
    assert sorted(written) == ["_meta", "admin"]  # the demo users are gone
    assert written["admin"]["hash"] == f"$2y$12$hash-of-{len(PASSWORD)}" and written["admin"]["backend_roles"] == ["admin"]
    assert PASSWORD not in users.read_text()
    assert refused.returncode != 0 and "OPENSEARCH_INITIAL_ADMIN_PASSWORD" in refused.stderr


def test_one_beat_schedules_the_periodic_tasks_with_a_schedule_file_it_may_write(services: dict[str, Any]) -> None:
    beat = services["beat"]

    assert beat["command"] == ["beat"] and beat["image"] == services["worker"]["image"]
    assert beat["environment"]["LOOKALIKE_DATA_DIR"].startswith("/home/lookalike/")  # the image's user (Dockerfile)
    assert "--beat" not in services["worker"]["command"]  # scaled workers must not each schedule
