"""All configuration, read once from the environment into one typed object.

No other module reads the environment: callers build a :class:`Config` with
:meth:`Config.from_env` and pass it down. Every setting has a safe default that runs the
embedded local node on this machine.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

from plugin.errors import ConfigError
from plugin.images.decode import DecodePolicy
from plugin.images.fetch import FetchPolicy
from plugin.images.gallery import parse_gallery_views
from plugin.images.views import parse_views

#: The repository root, where ``engine/`` (the local node's build) lives.
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    """How to run the local OpenSearch node (``lookalike engine``)."""

    #: Holds ``data/``, ``logs/`` and the pid file; survives restarts.
    home: Path
    http_port: int = 9200
    transport_port: int = 9300
    #: JVM heap of each node, as given to ``-Xms``/``-Xmx``.
    heap: str = "1g"
    #: Nodes ``lookalike engine start`` runs: 1 is a single node; more form one cluster on
    #: consecutive ports from ``http_port`` and ``transport_port``, each with its own data.
    nodes: int = 1
    #: Extra OpenSearch settings as ``key=value`` pairs, for tuning without code changes.
    extra_settings: tuple[str, ...] = ()
    #: Seconds to wait for the cluster to turn yellow or green.
    start_timeout: float = 120.0
    #: Where the Maven build of ``engine/pom.xml`` puts its jars (Maven's ``target``).
    build_dir: Path = REPO_ROOT / "engine" / "target"


@dataclasses.dataclass(frozen=True)
class IngestConfig:
    """How catalogues are ingested by the Celery workers."""

    #: The Celery broker (Redis).
    broker_url: str = "redis://127.0.0.1:6379/0"
    #: Where ``lookalike broker start`` keeps the local Redis's files, and its port.
    redis_home: Path = REPO_ROOT / ".lookalike" / "redis"
    redis_port: int = 6379
    #: Products per embedding batch and bulk request.
    batch_size: int = 16
    #: Embedding batches per task: the pipeline overlaps a task's batches, so a longer task
    #: idles the model less often, but is more to do again when a worker dies.
    batches_per_task: int = 8
    #: Products from which a run relaxes the refresh interval of the index it fills.
    large_run: int = 1000
    #: That index's refresh interval during a large run, put back afterwards. Each refresh makes
    #: a segment, and merging segments rebuilds their HNSW graphs. Not ``-1`` (none): should
    #: the runner be killed outright, the index still refreshes.
    large_run_refresh: str = "30s"
    #: Attempts for a product whose image fetch fails transiently, before it is quarantined.
    max_attempts: int = 4
    #: First retry delay in seconds; doubles with each attempt.
    retry_backoff: float = 2.0
    #: Seconds after which a task taken by a worker that died is handed to another. Tasks are
    #: short batches, so a lost one should come back in minutes, not an hour.
    visibility_timeout: int = 300
    #: Deliveries of one task (each a worker that died running it) before its products are
    #: quarantined as poison instead of handed out again.
    max_deliveries: int = 3
    #: Predict the shop's categories and tags for the products a run changed, and their
    #: neighbours, once the run is done (:mod:`plugin.tagging.store`).
    predict_tags: bool = True


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """How ``lookalike serve`` holds up against slow, greedy and hostile clients."""

    #: Open connections the server accepts in all.
    connection_limit: int = 1000
    #: Open connections from one client address; more are closed at once.
    client_connections: int = 32
    #: Seconds a client has to send a whole request (headers and body) once it starts one.
    read_timeout: float = 15.0
    #: Seconds an idle keep-alive connection stays open.
    idle_timeout: float = 30.0
    #: Seconds a query's ``image_url`` may take to fetch, all of it.
    query_fetch_timeout: float = 5.0
    #: Query-time ``image_url`` fetches in flight at once; 0: half the request threads.
    query_fetches: int = 0
    #: Reverse proxies in front of the API whose ``X-Forwarded-For`` is trusted (0: none).
    trusted_proxies: int = 0
    #: A PEM certificate (chain) and its private key: with both, ``lookalike serve`` speaks only HTTPS.
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("LOOKALIKE_TLS_CERT and LOOKALIKE_TLS_KEY go together: set both to serve HTTPS, or neither")


@dataclasses.dataclass(frozen=True)
class LimitsConfig:
    """Per-client rate limits (``limits`` notation, ``;``-separated); empty turns one off."""

    #: Where the counters live: a ``redis://`` URL (the broker's by default) or ``memory://``.
    storage_url: str | None = None
    search: str = "1200/minute"
    #: Searches that fetch a photo from ``image_url`` (on top of ``search``).
    url_fetch: str = "60/minute"
    #: Failed admin keys (form or header) per client before it is locked out until the window passes.
    admin_failures: str = "10/minute"


@dataclasses.dataclass(frozen=True)
class DetectConfig:
    """How query photos are searched for the objects in them (:mod:`plugin.search.regions`)."""

    #: What ``POST /search`` does when the request does not say: ``auto``, ``off`` or ``all``.
    mode: str = "auto"
    #: The converted detector; None: the file ``lookalike detector build`` makes in *cache_dir*.
    model_file: Path | None = None
    #: Shared by every checkout on the machine, as Maven's ``~/.m2`` is.
    cache_dir: Path = Path.home() / ".cache" / "lookalike" / "detector"
    #: The detector's square input side in pixels (a multiple of 32).
    size: int = 384
    #: Boxes the detector is less sure of than this are dropped.
    min_score: float = 0.1
    #: Detected boxes ``auto`` searches beside the whole photo, most salient first (at most *max_groups*).
    candidates: int = 3
    #: ``auto`` also searches a grid of ``grid`` × ``grid`` square windows, each ``grid_side``
    #: of the photo's width and height (0: no grid).
    grid: int = 2
    grid_side: float = 0.6
    #: Boxes ``all`` searches, each its own group of results.
    max_groups: int = 5


@dataclasses.dataclass(frozen=True)
class RecommendConfig:
    """How shopper events become recommendations and popularity (:mod:`plugin.recommend`)."""

    #: Seconds between two runs of the periodic task that folds new events into co-occurrence
    #: counts and popularity (Celery beat, ``lookalike worker --beat``).
    every_s: float = 60.0
    #: Hours without an event after which a shopper's next event starts a new session.
    session_idle_hours: float = 24.0
    #: Days over which an event's weight in a product's popularity halves.
    popularity_half_life_days: float = 7.0


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything lookalike needs to know about its surroundings."""

    #: One node's URL, or several separated by commas: clients then spread requests over them
    #: and take a node that stops answering out of rotation (:attr:`opensearch_urls`).
    opensearch_url: str
    engine: EngineConfig
    opensearch_user: str | None = None
    opensearch_password: str | None = None
    #: Verify the cluster's TLS certificate; only turn off for a local self-signed node.
    verify_certs: bool = True
    ca_certs: str | None = None
    request_timeout: float = 30.0
    #: Further nodes a request is sent to when one cannot be reached, times out or answers 502-504.
    max_retries: int = 3
    #: Seconds a node that failed stays out of rotation before it is tried again (doubling while it keeps failing).
    dead_timeout: float = 10.0
    #: gzip request bodies: worth it over a slow link, pure CPU cost on a local or LAN cluster.
    http_compress: bool = False
    #: Clients read and write products through this alias, never a concrete index.
    index_alias: str = "products"
    index_shards: int = 1
    index_replicas: int = 0
    #: How images are fetched from URLs and files (ingest and query photos alike).
    fetch: FetchPolicy = FetchPolicy()
    #: How image bytes are decoded.
    decode: DecodePolicy = DecodePolicy()
    ingest: IngestConfig = IngestConfig()
    serve: ServeConfig = ServeConfig()
    limits: LimitsConfig = LimitsConfig()
    detect: DetectConfig = DetectConfig()
    recommend: RecommendConfig = RecommendConfig()
    #: The embedding model: ``offline`` (the packaged default) or ``clip:<checkpoint id or directory>``.
    model: str = "offline"
    #: Threads for model inference; 0 means one per core available to this process.
    inference_threads: int = 0
    #: What runs the model: ``onnx`` (ONNX Runtime, exported once from the PyTorch weights) or ``torch``.
    runtime: str = "onnx"
    #: The views of a query photo whose vectors are averaged (test-time augmentation); see plugin/images/views.py.
    query_views: tuple[str, ...] = ("original",)
    #: Further views of each catalogue photo indexed beside it (plugin/images/gallery.py); none by default.
    gallery_views: tuple[str, ...] = ()
    #: Where prepared data sets (the demo catalogue, evaluation sets) are kept.
    data_dir: Path = REPO_ROOT / ".lookalike" / "data"
    #: The key that opens ``/admin``; with none set, the admin views refuse every request.
    admin_key: str | None = None
    #: The shop's id, hidden as an invisible watermark in every thumbnail the API serves; None: no watermark.
    watermark: str | None = None
    #: PEM root certificates whose signers' Content Credentials count as ``trusted``; None: every
    #: valid manifest is ``untrusted`` (valid, signer unknown).
    c2pa_trust_anchors: Path | None = None
    #: Days shopper events are kept (``plugin.opensearch.events``): older months are deleted whole.
    events_retention_days: int = 90
    #: Let searches filter and count by predicted categories and tags (``predicted_category``,
    #: ``predicted_tags``): off until the shop has looked at what is predicted for its catalogue.
    predicted_filters: bool = False
    #: Origins (``scheme://host[:port]``) whose pages may call the public API and load the widget;
    #: ``*`` allows any. Empty: same origin only.
    cors_origins: tuple[str, ...] = ()
    #: Benchmark and evaluation reports (JSON, Markdown, PNG, SVG) shown by the admin views.
    reports_dir: Path = REPO_ROOT / "reports"
    #: The shop's synonyms (Solr format: ``sofa, couch`` or ``tv => television``), read when a
    #: product index is created; a new list takes effect with the next ``--new-index``.
    synonyms_file: Path | None = None
    #: Candidates an HNSW search keeps while walking the graph (never fewer than the window):
    #: recall against k-NN latency (see ``plugin.search.request.EF_SEARCH``).
    knn_ef_search: int = 256
    #: OpenSearch's concurrent segment search for product indices (``all``, ``auto``, ``none``):
    #: ``all`` searches a shard's segments on several threads, so one k-NN query over many
    #: unmerged HNSW graphs uses every core (``lookalike bench scale`` measures both).
    segment_search: str = "all"

    @property
    def opensearch_urls(self) -> tuple[str, ...]:
        """Each node URL of :attr:`opensearch_url`."""
        return tuple(url.strip().rstrip("/") for url in self.opensearch_url.split(",") if url.strip())

    @property
    def models_dir(self) -> Path:
        """Models exported for ONNX Runtime, each under a hash of its weights and the export code."""
        return self.data_dir / "models"

    @property
    def quarantine_index(self) -> str:
        """Where rows and images that could not be ingested are kept, with their reasons."""
        return f"{self.index_alias}-quarantine"

    @property
    def thumbnail_index(self) -> str:
        """WebP thumbnails, one document per distinct image (keyed by its fingerprint)."""
        return f"{self.index_alias}-thumbnails"

    @property
    def sessions_index(self) -> str:
        """Admin login sessions, one document per open session (``plugin.opensearch.sessions``)."""
        return f"{self.index_alias}-sessions"

    @property
    def ranking_index(self) -> str:
        """The shop's ranking settings, one document per version (``lookalike tune`` writes them)."""
        return f"{self.index_alias}-ranking"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build the configuration from environment variables (``os.environ`` by default).

        Raises :class:`~plugin.errors.ConfigError` naming the variable at fault.
        """
        env = os.environ if environ is None else environ
        engine = EngineConfig(
            home=Path(env.get("LOOKALIKE_ENGINE_HOME", str(REPO_ROOT / ".lookalike" / "engine"))).expanduser().resolve(),
            http_port=_port(env, "LOOKALIKE_ENGINE_PORT", 9200),
            transport_port=_port(env, "LOOKALIKE_ENGINE_TRANSPORT_PORT", 9300),
            heap=_heap(env, "LOOKALIKE_ENGINE_HEAP", "1g"),
            nodes=int(_within(env, "LOOKALIKE_ENGINE_NODES", 1, 1, 9)),
            extra_settings=tuple(env.get("LOOKALIKE_ENGINE_SETTINGS", "").split()),
            start_timeout=_float(env, "LOOKALIKE_ENGINE_START_TIMEOUT", 120.0),
        )
        last = engine.nodes - 1
        if max(engine.http_port, engine.transport_port) + last > 65535:
            raise ConfigError(f"LOOKALIKE_ENGINE_NODES={engine.nodes} needs ports up to {max(engine.http_port, engine.transport_port) + last}; choose lower LOOKALIKE_ENGINE_PORT and LOOKALIKE_ENGINE_TRANSPORT_PORT")
        if engine.http_port <= engine.transport_port + last and engine.transport_port <= engine.http_port + last:
            raise ConfigError(
                f"the local nodes' HTTP ports {engine.http_port}-{engine.http_port + last} and transport ports "
                f"{engine.transport_port}-{engine.transport_port + last} overlap; set LOOKALIKE_ENGINE_PORT and LOOKALIKE_ENGINE_TRANSPORT_PORT apart"
            )
        redis_port = _port(env, "LOOKALIKE_REDIS_PORT", 6379)
        for pair in engine.extra_settings:
            if "=" not in pair:
                raise ConfigError(f"LOOKALIKE_ENGINE_SETTINGS: expected key=value pairs, got {pair!r}")
        return cls(
            opensearch_url=_urls(env, "OPENSEARCH_URL", ",".join(f"http://127.0.0.1:{engine.http_port + i}" for i in range(engine.nodes))),
            engine=engine,
            opensearch_user=env.get("OPENSEARCH_USER") or None,
            opensearch_password=env.get("OPENSEARCH_PASSWORD") or None,
            verify_certs=_bool(env, "OPENSEARCH_VERIFY_CERTS", True),
            ca_certs=env.get("OPENSEARCH_CA_CERTS") or None,
            request_timeout=_float(env, "OPENSEARCH_TIMEOUT", 30.0),
            max_retries=_int(env, "OPENSEARCH_MAX_RETRIES", 3),
            dead_timeout=_float(env, "OPENSEARCH_DEAD_TIMEOUT", 10.0),
            http_compress=_bool(env, "OPENSEARCH_HTTP_COMPRESS", False),
            index_alias=_name(env, "LOOKALIKE_INDEX_ALIAS", "products"),
            index_shards=_int(env, "LOOKALIKE_INDEX_SHARDS", 1),
            index_replicas=_int(env, "LOOKALIKE_INDEX_REPLICAS", 0),
            fetch=FetchPolicy(
                connect_timeout=_float(env, "LOOKALIKE_FETCH_CONNECT_TIMEOUT", 5.0),
                read_timeout=_float(env, "LOOKALIKE_FETCH_READ_TIMEOUT", 15.0),
                max_bytes=_int(env, "LOOKALIKE_FETCH_MAX_BYTES", 20 * 1024 * 1024),
                max_redirects=_int(env, "LOOKALIKE_FETCH_MAX_REDIRECTS", 3),
                allow_private=_bool(env, "LOOKALIKE_FETCH_ALLOW_PRIVATE", False),
                local_roots=tuple(Path(p).expanduser() for p in env.get("LOOKALIKE_IMAGE_ROOTS", "").split(os.pathsep) if p),
            ),
            decode=DecodePolicy(max_pixels=_int(env, "LOOKALIKE_MAX_IMAGE_PIXELS", 40_000_000)),
            ingest=IngestConfig(
                broker_url=env.get("CELERY_BROKER_URL") or f"redis://127.0.0.1:{redis_port}/0",
                redis_home=Path(env.get("LOOKALIKE_REDIS_HOME", str(REPO_ROOT / ".lookalike" / "redis"))).expanduser().resolve(),
                redis_port=redis_port,
                batch_size=max(1, _int(env, "LOOKALIKE_INGEST_BATCH_SIZE", 16)),
                batches_per_task=max(1, _int(env, "LOOKALIKE_INGEST_BATCHES_PER_TASK", 8)),
                large_run=max(1, _int(env, "LOOKALIKE_INGEST_LARGE_RUN", 1000)),
                large_run_refresh=_refresh_interval(env, "LOOKALIKE_INGEST_LARGE_RUN_REFRESH", "30s"),
                max_attempts=max(1, _int(env, "LOOKALIKE_INGEST_MAX_ATTEMPTS", 4)),
                retry_backoff=_float(env, "LOOKALIKE_INGEST_RETRY_BACKOFF", 2.0),
                visibility_timeout=max(1, _int(env, "LOOKALIKE_BROKER_VISIBILITY_TIMEOUT", 300)),
                max_deliveries=max(1, _int(env, "LOOKALIKE_INGEST_MAX_DELIVERIES", 3)),
                predict_tags=_bool(env, "LOOKALIKE_PREDICT_TAGS", True),
            ),
            serve=ServeConfig(
                connection_limit=max(1, _int(env, "LOOKALIKE_SERVE_CONNECTION_LIMIT", 1000)),
                client_connections=max(1, _int(env, "LOOKALIKE_SERVE_CLIENT_CONNECTIONS", 32)),
                read_timeout=_float(env, "LOOKALIKE_SERVE_READ_TIMEOUT", 15.0),
                idle_timeout=_float(env, "LOOKALIKE_SERVE_IDLE_TIMEOUT", 30.0),
                query_fetch_timeout=_float(env, "LOOKALIKE_QUERY_FETCH_TIMEOUT", 5.0),
                query_fetches=_int(env, "LOOKALIKE_QUERY_FETCHES", 0),
                trusted_proxies=_int(env, "LOOKALIKE_TRUSTED_PROXIES", 0),
                tls_cert=_file(env, "LOOKALIKE_TLS_CERT"),
                tls_key=_file(env, "LOOKALIKE_TLS_KEY"),
            ),
            limits=LimitsConfig(
                storage_url=env.get("LOOKALIKE_RATE_LIMIT_STORAGE") or None,
                search=env.get("LOOKALIKE_RATE_LIMIT_SEARCH", "1200/minute").strip(),
                url_fetch=env.get("LOOKALIKE_RATE_LIMIT_URL_FETCH", "60/minute").strip(),
                admin_failures=env.get("LOOKALIKE_RATE_LIMIT_ADMIN_FAILURES", "10/minute").strip(),
            ),
            recommend=RecommendConfig(
                every_s=_within(env, "LOOKALIKE_RECOMMEND_EVERY", 60.0, 0.5, 86_400.0),
                session_idle_hours=_within(env, "LOOKALIKE_SESSION_IDLE_HOURS", 24.0, 0.01, 720.0),
                popularity_half_life_days=_within(env, "LOOKALIKE_POPULARITY_HALF_LIFE_DAYS", 7.0, 0.01, 3650.0),
            ),
            detect=DetectConfig(
                mode=_choice(env, "LOOKALIKE_DETECT", ("auto", "off", "all"), "auto"),
                model_file=Path(env["LOOKALIKE_DETECTOR_FILE"]).expanduser().resolve() if env.get("LOOKALIKE_DETECTOR_FILE") else None,
                cache_dir=Path(env.get("LOOKALIKE_DETECTOR_CACHE", str(Path.home() / ".cache" / "lookalike" / "detector"))).expanduser().resolve(),
                size=_multiple_of_32(env, "LOOKALIKE_DETECTOR_SIZE", 384),
                min_score=_within(env, "LOOKALIKE_DETECTOR_MIN_SCORE", 0.1, 0.0, 1.0),
                candidates=int(_within(env, "LOOKALIKE_DETECT_CANDIDATES", 3, 0, 16)),
                grid=int(_within(env, "LOOKALIKE_DETECT_GRID", 2, 0, 4)),
                grid_side=_within(env, "LOOKALIKE_DETECT_GRID_SIDE", 0.6, 0.2, 0.9),
                max_groups=int(_within(env, "LOOKALIKE_DETECT_MAX_GROUPS", 5, 1, 16)),
            ),
            model=env.get("LOOKALIKE_MODEL", "offline"),
            # LOOKALIKE_TORCH_THREADS is the older name, from before ONNX Runtime ran the model.
            inference_threads=_int(env, "LOOKALIKE_INFERENCE_THREADS", _int(env, "LOOKALIKE_TORCH_THREADS", 0)),
            runtime=_choice(env, "LOOKALIKE_RUNTIME", ("onnx", "torch"), "onnx"),
            query_views=_views(env, "LOOKALIKE_QUERY_VIEWS", "original"),
            gallery_views=_gallery_views(env, "LOOKALIKE_GALLERY_VIEWS"),
            data_dir=Path(env.get("LOOKALIKE_DATA_DIR", str(REPO_ROOT / ".lookalike" / "data"))).expanduser().resolve(),
            admin_key=env.get("LOOKALIKE_ADMIN_KEY") or None,
            watermark=env.get("LOOKALIKE_WATERMARK", "").strip() or None,
            c2pa_trust_anchors=_pem_certificates(env, "LOOKALIKE_C2PA_TRUST_ANCHORS"),
            events_retention_days=int(_within(env, "LOOKALIKE_EVENTS_RETENTION_DAYS", 90, 1, 3650)),
            predicted_filters=_bool(env, "LOOKALIKE_PREDICTED_FILTERS", False),
            cors_origins=_origins(env, "LOOKALIKE_CORS_ORIGINS"),
            reports_dir=Path(env.get("LOOKALIKE_REPORTS_DIR", str(REPO_ROOT / "reports"))).expanduser().resolve(),
            synonyms_file=Path(env["LOOKALIKE_SYNONYMS_FILE"]).expanduser().resolve() if env.get("LOOKALIKE_SYNONYMS_FILE") else None,
            knn_ef_search=max(1, _int(env, "LOOKALIKE_KNN_EF_SEARCH", 256)),
            segment_search=_choice(env, "LOOKALIKE_SEGMENT_SEARCH", ("all", "auto", "none"), "all"),
        )


def _file(env: Mapping[str, str], key: str) -> Path | None:
    value = env.get(key, "").strip()
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"{key}={value!r}: no such file")
    return path


def _pem_certificates(env: Mapping[str, str], key: str) -> Path | None:
    path = _file(env, key)
    if path is not None and "-----BEGIN CERTIFICATE-----" not in path.read_text(encoding="utf-8", errors="replace"):
        raise ConfigError(f"{key}={str(path)!r}: expected PEM certificates (-----BEGIN CERTIFICATE-----)")
    return path


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{key} must not be negative, got {value}")
    return value


def _choice(env: Mapping[str, str], key: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(key) or default
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _refresh_interval(env: Mapping[str, str], key: str, default: str) -> str:
    value = env.get(key, "").strip() or default
    if not re.fullmatch(r"-1|\d+(ms|s|m|h)", value):
        raise ConfigError(f"{key} must be a time such as 30s or 2m, or -1; got {value!r}")
    return value


def _within(env: Mapping[str, str], key: str, default: float, low: float, high: float) -> float:
    """A number from *low* to *high*; integral bounds ask for a whole number."""
    whole = isinstance(default, int)
    value: float = _int(env, key, int(default)) if whole else _float(env, key, default)
    if not low <= value <= high:
        raise ConfigError(f"{key} must be from {low:g} to {high:g}; got {value:g}")
    return value


def _multiple_of_32(env: Mapping[str, str], key: str, default: int) -> int:
    value = _int(env, key, default)
    if value < 64 or value > 1024 or value % 32:
        raise ConfigError(f"{key} must be a multiple of 32 from 64 to 1024; got {value}")
    return value


def _port(env: Mapping[str, str], key: str, default: int) -> int:
    value = _int(env, key, default)
    if not 1 <= value <= 65535:
        raise ConfigError(f"{key} must be a port between 1 and 65535, got {value}")
    return value


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{key} must be a positive number, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{key} must be true or false, got {raw!r}")


def _views(env: Mapping[str, str], key: str, default: str) -> tuple[str, ...]:
    try:
        return parse_views(env.get(key) or default)
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _gallery_views(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    try:
        return parse_gallery_views(env.get(key, ""))
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _origins(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    # Browsers send Origin without a path or trailing slash; compare in that form.
    origins = tuple(o.rstrip("/") for o in env.get(key, "").replace(",", " ").split())
    for origin in origins:
        if origin != "*" and (not origin.startswith(("http://", "https://")) or "/" in origin.split("://", 1)[1]):
            raise ConfigError(f"{key}: expected origins like https://shop.example or *, got {origin!r}")
    return origins


def _urls(env: Mapping[str, str], key: str, default: str) -> str:
    """Node URLs separated by commas, each ``http(s)://host[:port]``, as one string without trailing slashes."""
    urls = [url.strip().rstrip("/") for url in (env.get(key) or default).split(",") if url.strip()]
    if not urls:
        raise ConfigError(f"{key} must name at least one node, e.g. http://127.0.0.1:9200")
    for url in urls:
        if not re.fullmatch(r"https?://([^\s/,@]+@)?(\[[0-9A-Fa-f:.]+\]|[^\s/,:\[\]@]+)(:\d{1,5})?(/[^\s,]*)?", url):
            raise ConfigError(f"{key}: expected node URLs like http://127.0.0.1:9200 separated by commas, got {url!r}")
    return ",".join(urls)


def _heap(env: Mapping[str, str], key: str, default: str) -> str:
    value = (env.get(key) or default).strip()
    if not re.fullmatch(r"\d+[kmgKMG]", value):
        raise ConfigError(f"{key} must be a JVM heap size such as 512m or 2g, got {value!r}")
    return value


def _name(env: Mapping[str, str], key: str, default: str) -> str:
    # OpenSearch index names: lowercase, no leading '_', '-' or '+', none of \/*?"<>| ,#:
    value = env.get(key) or default
    if value != value.lower() or value[0] in "_-+" or any(c in value for c in '\\/*?"<>| ,#:'):
        raise ConfigError(f"{key} is not a valid OpenSearch index name: {value!r}")
    return value
