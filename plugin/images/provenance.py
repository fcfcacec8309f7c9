"""Read Content Credentials (C2PA manifests) from image bytes: who made the image, what was done to it.

A C2PA manifest is a signed record embedded in the image: the software that wrote it, the
people it names as authors, the edits it recorded (``c2pa.actions``), the certificate that
signed it, and hashes binding it to the pixels. :func:`read_provenance` reads it with the
``c2pa-python`` library (c2pa-rs underneath), validates it, and returns a small
:class:`Provenance`, or ``None`` when the image carries no manifest.

Validity, from the library's ``validation_state`` over the active manifest and its ingredients:

* ``trusted``: every check passed and the signing certificate chains to one of the
  ``trust_anchors`` given to :func:`read_provenance`.
* ``untrusted``: every check passed except trust: the signature is intact and matches the
  image, but the certificate is not from a configured anchor (the usual case for a shop's
  self-made certificate). The problems then list ``signingCredential.untrusted`` only.
  Still ``valid``.
* ``invalid``: any other failure code: ``assertion.dataHash.mismatch`` (the pixels or file
  changed after signing), ``assertion.hashedURI.mismatch`` (an assertion was altered),
  ``claimSignature.mismatch``, ``signingCredential.invalid`` / ``.expired`` / ``.revoked``,
  ``timeStamp.*``, ``assertion.action.*``, failures inside an ingredient's manifest.
* ``unreadable``: the image holds C2PA data that could not be read or verified at all:
  ``manifest.inaccessible`` (the image points to a remote manifest, which is never fetched),
  ``manifest.unreadable`` (the manifest or the file around it is damaged or truncated), or
  ``manifest.tooLarge`` (the file is over ``max_bytes``, so it was not read).

``valid`` is true for ``trusted`` and ``untrusted`` only. Reading never touches the network:
remote manifests and OCSP are off, so a hostile image cannot make ingest fetch a URL.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import io
import json
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

#: Files larger than this are not given to the library (catalogue fetches stop at 20 MiB).
MAX_BYTES = 32 * 1024 * 1024
#: The bounds on what one image can put into a document.
MAX_TEXT = 200
MAX_EXPLANATION = 300
MAX_AUTHORS = 10
MAX_ACTIONS = 50
MAX_PROBLEMS = 20
#: How far back the chain of parent manifests (earlier edits) is followed.
MAX_CHAIN = 8
#: The library's own JSON for one image is not parsed past this size.
MAX_MANIFEST_JSON = 8 * 1024 * 1024

STATUSES = ("trusted", "untrusted", "invalid", "unreadable")
#: The failure codes that leave a manifest valid: the signature is intact, only its signer is unknown.
TRUST_ONLY_CODES = frozenset({"signingCredential.untrusted"})
#: IPTC digital source types that mean a generative model made the image (or part of it).
GENERATIVE_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})

#: The OpenSearch mapping of :meth:`Provenance.to_document`, for ``images.provenance``.
MAPPING: dict[str, Any] = {
    "type": "object",
    "dynamic": "strict",
    "properties": {
        "status": {"type": "keyword"},
        "valid": {"type": "boolean"},
        "trusted": {"type": "boolean"},
        "generative_ai": {"type": "boolean"},
        "made_by": {"type": "keyword"},
        "authors": {"type": "keyword"},
        "claim_generator": {"type": "keyword"},
        "title": {"type": "keyword"},
        "signer": {"type": "keyword"},
        "signer_organization": {"type": "keyword"},
        "certificate_issuer": {"type": "keyword"},
        "signed_at": {"type": "date"},
        "signature_algorithm": {"type": "keyword"},
        "actions": {
            "type": "object",
            "properties": {
                "action": {"type": "keyword"},
                "software_agent": {"type": "keyword"},
                "when": {"type": "date"},
                "digital_source_type": {"type": "keyword"},
            },
        },
        "problems": {
            "type": "object",
            "properties": {
                "code": {"type": "keyword"},
                "explanation": {"type": "keyword", "index": False, "doc_values": False},
            },
        },
    },
}

#: Reading settings (c2pa-rs settings schema): no network of any kind, bounded manifests.
#: Unknown keys are ignored silently by the library, so the tests check their effect.
_READ_SETTINGS: dict[str, Any] = {
    "verify": {
        "verify_after_reading": True,
        "verify_trust": True,
        "remote_manifest_fetch": False,
        "ocsp_fetch": False,
    },
    "core": {"allowed_network_hosts": [], "max_decompressed_manifest_size_in_mb": 16},
}


@dataclasses.dataclass(frozen=True)
class Action:
    """One recorded edit: ``c2pa.created``, ``c2pa.resized``, ``c2pa.color_adjustments``..."""

    action: str
    software_agent: str | None = None
    #: ISO 8601 in UTC (``2025-03-01T10:00:00Z``), or None when absent or unparseable.
    when: str | None = None
    #: The last part of the IPTC digital source type URI: ``digitalCapture``, ``trainedAlgorithmicMedia``...
    digital_source_type: str | None = None


@dataclasses.dataclass(frozen=True)
class Problem:
    """A validation failure: a C2PA status code (or one of ours, see the module) and what it means."""

    code: str
    explanation: str = ""


@dataclasses.dataclass(frozen=True)
class Provenance:
    """The Content Credentials of one image. Only made for an image that carries a manifest."""

    #: One of :data:`STATUSES`; see the module docstring.
    status: str
    claim_generator: str | None = None
    title: str | None = None
    #: Authors named by the manifests (schema.org CreativeWork ``author``/``creator``,
    #: ``dc:creator`` in metadata assertions), the original image's first.
    authors: tuple[str, ...] = ()
    #: The signing certificate's subject common name and organisation, and who issued it.
    signer: str | None = None
    signer_organization: str | None = None
    certificate_issuer: str | None = None
    #: When it was signed, from a trusted time-stamp only (ISO 8601 UTC); None without one.
    signed_at: str | None = None
    signature_algorithm: str | None = None
    #: The recorded edits, oldest first, through the chain of parent manifests.
    actions: tuple[Action, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def valid(self) -> bool:
        """The manifest is intact and matches the image (its signer may still be unknown)."""
        return self.status in ("trusted", "untrusted")

    @property
    def trusted(self) -> bool:
        return self.status == "trusted"

    @property
    def made_by(self) -> str | None:
        """Who made the image, for one line in the admin: the first author, else the signer."""
        if self.authors:
            return self.authors[0]
        return self.signer_organization or self.signer

    @property
    def generative_ai(self) -> bool:
        """An action says a generative model made the image or part of it."""
        return any(a.digital_source_type in GENERATIVE_SOURCE_TYPES for a in self.actions)

    def to_document(self) -> dict[str, Any]:
        """A JSON-able dict for the ``images.provenance`` object of :data:`MAPPING`.

        Absent values are left out; lists are always there (maybe empty). Every string is
        at most :data:`MAX_TEXT` characters (explanations :data:`MAX_EXPLANATION`).
        """
        document: dict[str, Any] = {
            "status": self.status,
            "valid": self.valid,
            "trusted": self.trusted,
            "generative_ai": self.generative_ai,
            "authors": list(self.authors),
            "actions": [_without_none(dataclasses.asdict(a)) for a in self.actions],
            "problems": [dataclasses.asdict(p) for p in self.problems],
        }
        for name in ("made_by", "claim_generator", "title", "signer", "signer_organization",
                     "certificate_issuer", "signed_at", "signature_algorithm"):
            value = getattr(self, name)
            if value is not None:
                document[name] = value
        return document


def read_provenance(
    data: bytes, mime_type: str, *, trust_anchors: str | None = None, max_bytes: int = MAX_BYTES
) -> Provenance | None:
    """Return the Content Credentials in *data*, or None when it carries none.

    *mime_type* is a hint (the library trusts the bytes over it). *trust_anchors* is a PEM
    bundle of root certificates whose signers count as ``trusted``; without it a valid
    manifest is at best ``untrusted``. Never raises on what the bytes contain: damage the
    library reports inside a manifest gives ``invalid``, a manifest that cannot be read gives
    ``unreadable``, bytes that are no image or have no C2PA data give None. Work is bounded
    by *max_bytes* and the caps on lists and strings; nothing is fetched.

    What is wrong with the set-up rather than the bytes does raise: ``ImportError`` without
    ``c2pa-python``, ``c2pa.C2paError`` for *trust_anchors* the library cannot parse.
    """
    if len(data) > max_bytes:
        if _has_c2pa_data(data):
            return _unreadable("manifest.tooLarge", f"the file is over {max_bytes} bytes, so its Content Credentials were not read")
        return None
    c2pa = _library()
    # A fresh context per read: creating one costs ~0.2 ms, and none is then shared between
    # threads or inherited across a worker's fork.
    with c2pa.Context.from_dict(_settings(trust_anchors)) as context:
        try:
            store = _read_store(c2pa, context, data, mime_type)
        except Exception as exc:  # the library reports damage as exceptions of many kinds
            return _from_error(data, exc)
    if store is None:
        return None
    try:
        manifest_json, certificate = store
        return _from_store(manifest_json, certificate)
    except Exception as exc:  # a manifest shaped unlike any we expect
        log.warning("unexpected C2PA manifest shape: %r", exc)
        return _unreadable("manifest.unreadable", f"the manifest could not be interpreted: {exc}")


# --- the library ---------------------------------------------------------------------------

_c2pa: Any = None
_import_lock = threading.Lock()


def _library() -> Any:
    """``c2pa``, imported on first use: it loads a 23 MB native library (about 50 ms)."""
    global _c2pa
    if _c2pa is None:
        with _import_lock:
            if _c2pa is None:
                import c2pa

                _c2pa = c2pa
    return _c2pa


def _settings(trust_anchors: str | None) -> dict[str, Any]:
    settings = copy.deepcopy(_READ_SETTINGS)
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    return settings


def _read_store(c2pa: Any, context: Any, data: bytes, mime_type: str) -> tuple[str, dict[str, Any]] | None:
    """The library's manifest-store JSON and the signing certificate's names, or None without a manifest."""
    hint = mime_type if mime_type in c2pa.Reader.get_supported_mime_types() else None
    reader = c2pa.Reader.try_create(hint, io.BytesIO(data), None, context)
    if reader is None:
        return None
    with reader:
        manifest_json = reader.json()
        try:
            certificate = _certificate_names(reader.crjson())
        except Exception:  # only the certificate's issuer is lost
            certificate = {}
    return manifest_json, certificate


def _certificate_names(crjson: str) -> dict[str, Any]:
    """The active manifest's certificate subject and issuer from the crJSON form (the other form lacks the issuer)."""
    if len(crjson) > MAX_MANIFEST_JSON:
        return {}
    manifests = json.loads(crjson).get("manifests")
    if not isinstance(manifests, list) or not manifests or not isinstance(manifests[0], dict):
        return {}
    info = _dict(_dict(manifests[0].get("signature")).get("certificateInfo"))
    return {"label": manifests[0].get("label"), "subject": _dict(info.get("subject")), "issuer": _dict(info.get("issuer"))}


def _has_c2pa_data(data: bytes) -> bool:
    """Whether the bytes hold a C2PA JUMBF box, or an XMP pointer to a remote manifest."""
    return (b"jumb" in data and b"c2pa" in data) or b"dcterms:provenance" in data


def _from_error(data: bytes, exc: Exception) -> Provenance | None:
    message = str(exc)
    if message.startswith("Remote:"):
        return _unreadable("manifest.inaccessible", "the manifest is stored remotely and lookalike does not fetch it")
    if not _has_c2pa_data(data):
        return None  # not an image, not a format the library reads, or broken with no manifest in it
    return _unreadable("manifest.unreadable", message)


def _unreadable(code: str, explanation: str) -> Provenance:
    return Provenance(status="unreadable", problems=(Problem(code, _text(explanation, MAX_EXPLANATION) or ""),))


# --- the manifest store --------------------------------------------------------------------


def _from_store(manifest_json: str, certificate: dict[str, Any]) -> Provenance:
    if len(manifest_json) > MAX_MANIFEST_JSON:
        return _unreadable("manifest.unreadable", f"the manifest is over {MAX_MANIFEST_JSON} bytes as JSON")
    store = json.loads(manifest_json)
    manifests = _dict(store.get("manifests"))
    label = store.get("active_manifest")
    active = _dict(manifests.get(label)) if isinstance(label, str) else {}
    chain = _chain(manifests, active)  # active first
    problems = _problems(store)
    status = _status(store.get("validation_state"), problems)

    signature = _dict(active.get("signature_info"))
    subject: dict[str, Any] = {}
    issuer: dict[str, Any] = {}
    if certificate.get("label") == label:
        subject, issuer = certificate["subject"], certificate["issuer"]

    actions: list[Action] = []
    for manifest in reversed(chain):
        actions.extend(_actions(manifest))
    authors: list[str] = []
    for manifest in reversed(chain):
        for name in _authors(manifest):
            if name not in authors:
                authors.append(name)

    return Provenance(
        status=status,
        claim_generator=_claim_generator(active),
        title=_text(active.get("title")),
        authors=tuple(authors[:MAX_AUTHORS]),
        signer=_text(subject.get("CN")) or _text(signature.get("common_name")),
        signer_organization=_text(subject.get("O")) or _text(signature.get("issuer")),
        certificate_issuer=_text(issuer.get("CN")) or _text(issuer.get("O")),
        signed_at=_timestamp(signature.get("time")),
        signature_algorithm=_text(signature.get("alg")),
        actions=tuple(actions[-MAX_ACTIONS:]),  # the latest edits if there are too many
        problems=tuple(problems[:MAX_PROBLEMS]),
    )


def _chain(manifests: dict[str, Any], active: dict[str, Any]) -> list[dict[str, Any]]:
    """The active manifest, then its parent's (the image it was edited from), and so on."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    manifest = active
    while manifest and id(manifest) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(manifest))
        chain.append(manifest)
        parent: dict[str, Any] = {}
        for ingredient in _list(manifest.get("ingredients"))[:MAX_ACTIONS]:
            ingredient = _dict(ingredient)
            label = ingredient.get("active_manifest")
            if ingredient.get("relationship") == "parentOf" and isinstance(label, str):
                parent = _dict(manifests.get(label))
                break
        manifest = parent
    return chain


def _status(state: Any, problems: list[Problem]) -> str:
    if state == "Trusted":
        return "trusted"
    if state == "Valid":
        return "untrusted"
    if state == "Invalid":
        return "invalid"
    # No state (an older library): judge from the failures as the library does.
    return "untrusted" if all(p.code in TRUST_ONLY_CODES for p in problems) else "invalid"


def _problems(store: dict[str, Any]) -> list[Problem]:
    """Failure codes of the active manifest and of its ingredients, without repeats."""
    results = _dict(store.get("validation_results"))
    statuses: list[Any] = []
    if results:
        statuses.extend(_list(_dict(results.get("activeManifest")).get("failure")))
        for delta in _list(results.get("ingredientDeltas"))[:MAX_PROBLEMS]:
            statuses.extend(_list(_dict(_dict(delta).get("validationDeltas")).get("failure")))
    else:
        statuses.extend(_list(store.get("validation_status")))
    problems: list[Problem] = []
    for status in statuses[: MAX_PROBLEMS * 4]:
        status = _dict(status)
        code = _text(status.get("code"))
        if code:
            problem = Problem(code, _text(status.get("explanation"), MAX_EXPLANATION) or "")
            if problem not in problems:
                problems.append(problem)
    return problems


def _actions(manifest: dict[str, Any]) -> list[Action]:
    actions: list[Action] = []
    for assertion in _list(manifest.get("assertions"))[:MAX_ACTIONS * 4]:
        assertion = _dict(assertion)
        label = assertion.get("label")
        if not (isinstance(label, str) and (label == "c2pa.actions" or label.startswith("c2pa.actions."))):
            continue
        for entry in _list(_dict(assertion.get("data")).get("actions"))[: MAX_ACTIONS * 2]:
            entry = _dict(entry)
            name = _text(entry.get("action"))
            if not name:
                continue
            agent = entry.get("softwareAgent")
            if isinstance(agent, dict):  # v2: {"name": .., "version": ..}
                agent = " ".join(str(agent[k]) for k in ("name", "version") if isinstance(agent.get(k), (str, int, float)))
            source = _text(entry.get("digitalSourceType"))
            actions.append(Action(
                action=name,
                software_agent=_text(agent),
                when=_timestamp(entry.get("when")),
                digital_source_type=_text(source.rstrip("/").rsplit("/", 1)[-1]) if source else None,
            ))
    return actions[-MAX_ACTIONS:]


def _authors(manifest: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for assertion in _list(manifest.get("assertions"))[:MAX_ACTIONS * 4]:
        assertion = _dict(assertion)
        label = assertion.get("label")
        data = _dict(assertion.get("data"))
        if label in ("stds.schema-org.CreativeWork", "stds.schema-org.CreativeWork.v2"):
            values = [data.get("author"), data.get("creator")]
        elif label in ("c2pa.metadata", "stds.iptc", "stds.iptc.photo-metadata"):
            values = [data.get("dc:creator")]
        else:
            continue
        for value in values:
            for name in _names(value):
                if name not in names:
                    names.append(name)
    return names[:MAX_AUTHORS]


def _names(value: Any) -> list[str]:
    """Names from a schema.org Person/Organization, a string, or a list of them (or an RDF ``@list``)."""
    if isinstance(value, dict) and isinstance(value.get("@list"), list):
        value = value["@list"]
    items = value[:MAX_AUTHORS] if isinstance(value, list) else [value]
    names = []
    for item in items:
        name = _text(item.get("name")) if isinstance(item, dict) else _text(item)
        if name:
            names.append(name)
    return names


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    info = _list(manifest.get("claim_generator_info"))
    if info and isinstance(info[0], dict):
        name, version = info[0].get("name"), info[0].get("version")
        if isinstance(name, str):
            return _text(f"{name} {version}" if isinstance(version, (str, int, float)) else name)
    return _text(manifest.get("claim_generator"))  # version 1 claims: "App/1.0 c2pa-rs/0.25"


# --- bounded values ------------------------------------------------------------------------


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    """A short printable string, or None: controls become spaces, runs of space collapse."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value)[: limit * 4]
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text[:limit] or None


def _timestamp(value: Any) -> str | None:
    """An ISO 8601 time as UTC ``YYYY-MM-DDTHH:MM:SSZ`` (OpenSearch's ``date`` reads it), else None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    try:
        moment = moment.astimezone(datetime.timezone.utc)
    except (OverflowError, ValueError):
        return None
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
