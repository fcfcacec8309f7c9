"""Configuration comes from the environment, once, with safe defaults and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.config import REPO_ROOT, Config
from plugin.errors import ConfigError


def test_defaults_run_the_local_node_on_this_machine() -> None:
    config = Config.from_env({})

    assert config.opensearch_url == "http://127.0.0.1:9200"
    assert config.engine.http_port == 9200
    assert config.engine.transport_port == 9300
    assert config.engine.home == REPO_ROOT / ".lookalike" / "engine"
    assert config.index_alias == "products"
    assert config.verify_certs is True
    assert config.opensearch_user is None


def test_the_url_follows_the_local_node_port_unless_a_cluster_is_named() -> None:
    assert Config.from_env({"LOOKALIKE_ENGINE_PORT": "9201"}).opensearch_url == "http://127.0.0.1:9201"
    named = Config.from_env({"LOOKALIKE_ENGINE_PORT": "9201", "OPENSEARCH_URL": "https://search.shop.example:9200/"})
    assert named.opensearch_url == "https://search.shop.example:9200"


def test_several_node_urls_are_read_as_one_cluster() -> None:
    config = Config.from_env({"OPENSEARCH_URL": "http://10.0.0.1:9200/, http://10.0.0.2:9200,https://10.0.0.3:9200"})

    assert config.opensearch_urls == ("http://10.0.0.1:9200", "http://10.0.0.2:9200", "https://10.0.0.3:9200")
    assert (config.max_retries, config.dead_timeout) == (3, 10.0)


def test_a_local_cluster_of_three_is_reached_on_its_three_ports_unless_a_url_is_named() -> None:
    config = Config.from_env({"LOOKALIKE_ENGINE_NODES": "3", "LOOKALIKE_ENGINE_PORT": "9400", "LOOKALIKE_ENGINE_HEAP": "512m"})

    assert config.opensearch_urls == ("http://127.0.0.1:9400", "http://127.0.0.1:9401", "http://127.0.0.1:9402")
    assert (config.engine.nodes, config.engine.heap) == (3, "512m")


def test_a_local_cluster_whose_ports_would_collide_or_overflow_is_refused() -> None:
    with pytest.raises(ConfigError, match="HTTP ports 9200-9202 and transport ports 9201-9203 overlap"):
        Config.from_env({"LOOKALIKE_ENGINE_NODES": "3", "LOOKALIKE_ENGINE_TRANSPORT_PORT": "9201"})
    with pytest.raises(ConfigError, match="needs ports up to 65536"):
        Config.from_env({"LOOKALIKE_ENGINE_NODES": "3", "LOOKALIKE_ENGINE_PORT": "65534"})


def test_a_real_cluster_gets_credentials_and_tls_settings() -> None:
    config = Config.from_env(
        {
            "OPENSEARCH_URL": "https://os.internal:9200",
            "OPENSEARCH_USER": "lookalike",
            "OPENSEARCH_PASSWORD": "s3cret",
            "OPENSEARCH_VERIFY_CERTS": "false",
            "OPENSEARCH_CA_CERTS": "/etc/ssl/os-ca.pem",
            "LOOKALIKE_INDEX_ALIAS": "shop-products",
            "LOOKALIKE_INDEX_REPLICAS": "1",
            "LOOKALIKE_ENGINE_HOME": "~/lookalike-node",
        }
    )

    assert (config.opensearch_user, config.opensearch_password) == ("lookalike", "s3cret")
    assert config.verify_certs is False
    assert config.ca_certs == "/etc/ssl/os-ca.pem"
    assert config.index_alias == "shop-products"
    assert config.index_replicas == 1
    assert config.engine.home == Path("~/lookalike-node").expanduser()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LOOKALIKE_ENGINE_PORT", "http", "LOOKALIKE_ENGINE_PORT must be a whole number, got 'http'"),
        ("LOOKALIKE_INDEX_REPLICAS", "-1", "LOOKALIKE_INDEX_REPLICAS must not be negative, got -1"),
        ("OPENSEARCH_VERIFY_CERTS", "maybe", "OPENSEARCH_VERIFY_CERTS must be true or false, got 'maybe'"),
        ("OPENSEARCH_TIMEOUT", "0", "OPENSEARCH_TIMEOUT must be a positive number, got '0'"),
        ("OPENSEARCH_TIMEOUT", "nan", "OPENSEARCH_TIMEOUT must be a positive number, got 'nan'"),
        ("LOOKALIKE_ENGINE_PORT", "70000", "LOOKALIKE_ENGINE_PORT must be a port between 1 and 65535, got 70000"),
        ("LOOKALIKE_INDEX_ALIAS", "Products", "LOOKALIKE_INDEX_ALIAS is not a valid OpenSearch index name: 'Products'"),
        ("LOOKALIKE_ENGINE_SETTINGS", "knn.cache", "LOOKALIKE_ENGINE_SETTINGS: expected key=value pairs, got 'knn.cache'"),
        ("OPENSEARCH_URL", "10.0.0.1:9200", "OPENSEARCH_URL: expected node URLs like http://127.0.0.1:9200 separated by commas, got '10.0.0.1:9200'"),
        ("OPENSEARCH_URL", " , ", "OPENSEARCH_URL must name at least one node, e.g. http://127.0.0.1:9200"),
        ("OPENSEARCH_URL", "http://:9200", "OPENSEARCH_URL: expected node URLs like http://127.0.0.1:9200 separated by commas, got 'http://:9200'"),
        ("LOOKALIKE_ENGINE_NODES", "12", "LOOKALIKE_ENGINE_NODES must be from 1 to 9; got 12"),
        ("LOOKALIKE_ENGINE_HEAP", "lots", "LOOKALIKE_ENGINE_HEAP must be a JVM heap size such as 512m or 2g, got 'lots'"),
        ("LOOKALIKE_RUNTIME", "tensorrt", "LOOKALIKE_RUNTIME must be one of onnx, torch; got 'tensorrt'"),
        ("LOOKALIKE_INGEST_LARGE_RUN_REFRESH", "soon", "LOOKALIKE_INGEST_LARGE_RUN_REFRESH must be a time such as 30s or 2m, or -1; got 'soon'"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Config.from_env({variable: value})
    assert str(excinfo.value) == message


def test_the_model_runs_on_onnx_runtime_unless_torch_is_asked_for() -> None:
    default = Config.from_env({"LOOKALIKE_DATA_DIR": "/srv/lookalike"})
    assert (default.runtime, default.inference_threads) == ("onnx", 0)
    assert default.models_dir == Path("/srv/lookalike/models")
    assert Config.from_env({"LOOKALIKE_RUNTIME": "torch"}).runtime == "torch"
    assert Config.from_env({"LOOKALIKE_INFERENCE_THREADS": "2"}).inference_threads == 2
    assert Config.from_env({"LOOKALIKE_TORCH_THREADS": "3"}).inference_threads == 3  # the older name still works


def test_image_fetching_is_safe_unless_configured_otherwise() -> None:
    default = Config.from_env({})
    assert default.fetch.allow_private is False
    assert default.fetch.local_roots == ()

    shop = Config.from_env(
        {
            "LOOKALIKE_FETCH_ALLOW_PRIVATE": "yes",
            "LOOKALIKE_IMAGE_ROOTS": "/srv/images:/mnt/catalogue",
            "LOOKALIKE_FETCH_MAX_BYTES": "1048576",
            "LOOKALIKE_MAX_IMAGE_PIXELS": "1000000",
        }
    )
    assert shop.fetch.allow_private is True
    assert shop.fetch.local_roots == (Path("/srv/images"), Path("/mnt/catalogue"))
    assert shop.fetch.max_bytes == 1_048_576
    assert shop.decode.max_pixels == 1_000_000


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOOKALIKE_DETECTOR_MIN_SCORE", "1.5"),
        ("LOOKALIKE_DETECT_GRID", "9"),
        ("LOOKALIKE_DETECT_GRID_SIDE", "1"),
        ("LOOKALIKE_DETECT_MAX_GROUPS", "0"),
        ("LOOKALIKE_DETECTOR_SIZE", "300"),
        ("LOOKALIKE_DETECT", "sometimes"),
    ],
)
def test_a_detection_setting_out_of_range_is_refused_naming_it(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Config.from_env({variable: value})


def test_detection_settings_are_read_from_the_environment() -> None:
    detect = Config.from_env({"LOOKALIKE_DETECT": "off", "LOOKALIKE_DETECT_GRID": "3", "LOOKALIKE_DETECT_GRID_SIDE": "0.5"}).detect
    assert (detect.mode, detect.grid, detect.grid_side, detect.candidates, detect.size) == ("off", 3, 0.5, 3, 384)


def test_concurrent_segment_search_is_on_by_default_and_only_opensearchs_modes_are_taken() -> None:
    assert Config.from_env({}).segment_search == "all"
    assert Config.from_env({"LOOKALIKE_SEGMENT_SEARCH": "none"}).segment_search == "none"
    with pytest.raises(ConfigError, match="LOOKALIKE_SEGMENT_SEARCH"):
        Config.from_env({"LOOKALIKE_SEGMENT_SEARCH": "sometimes"})


def test_c2pa_trust_anchors_must_be_pem_certificates(tmp_path: Path) -> None:
    junk = tmp_path / "anchors.pem"
    junk.write_text("not a certificate")

    with pytest.raises(ConfigError, match="LOOKALIKE_C2PA_TRUST_ANCHORS"):
        Config.from_env({"LOOKALIKE_C2PA_TRUST_ANCHORS": str(junk)})
    with pytest.raises(ConfigError, match="no such file"):
        Config.from_env({"LOOKALIKE_C2PA_TRUST_ANCHORS": str(tmp_path / "missing.pem")})
