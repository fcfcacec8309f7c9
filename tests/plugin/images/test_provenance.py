"""Content Credentials are read from real signed images, and every kind of damage is named, never raised."""

from __future__ import annotations

import concurrent.futures
import http.server
import io
import json
import random
import threading
import time
from collections.abc import Iterator

import c2pa
import pytest
from PIL import Image, ImageChops, ImageDraw

from plugin.images.provenance import (
    MAPPING,
    MAX_ACTIONS,
    MAX_AUTHORS,
    MAX_EXPLANATION,
    MAX_TEXT,
    STATUSES,
    Action,
    Provenance,
    read_provenance,
)
from tests.support.c2pa import (
    DIGITAL_CAPTURE,
    GENERATED_BY_AI,
    action,
    manifest,
    sign,
    signing_chain,
    with_changed_pixels,
    with_manifest_moved,
)
from tests.support.images import jpeg, png_bytes

#: What one read may cost at most; measured at 1-10 ms, the bound leaves room for slow machines.
READ_SECONDS = 0.5


def photo(seed: int = 1, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A small synthetic product photo (shapes on a plain background), made here, owned by no one."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (240, 236, 230))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(0, size[0] - 30), rng.randrange(0, size[1] - 30)
        draw.ellipse((x, y, x + rng.randrange(20, 60), y + rng.randrange(20, 60)),
                     fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


def encoded(image: Image.Image, format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


CREATED_AND_RESIZED = [
    action("c2pa.created", "Test Camera App", "2025-03-01T10:00:00Z", DIGITAL_CAPTURE),
    action("c2pa.resized", "Test Editor 2", "2025-03-02T12:30:00+01:00"),
]


@pytest.fixture(scope="module")
def signed_jpeg() -> bytes:
    return sign(jpeg(photo(), quality=90), "image/jpeg", manifest(CREATED_AND_RESIZED, authors=["Ada Photographer"]))


def read(data: bytes, mime_type: str = "image/jpeg", **kwargs: object) -> Provenance | None:
    started = time.perf_counter()
    result = read_provenance(data, mime_type, **kwargs)  # type: ignore[arg-type]
    assert time.perf_counter() - started < READ_SECONDS
    return result


def test_a_signed_jpeg_gives_its_author_edits_and_signer_valid_but_untrusted(signed_jpeg: bytes) -> None:
    provenance = read(signed_jpeg)

    assert provenance is not None
    assert provenance.status == "untrusted"  # intact, signed by a certificate no anchor vouches for
    assert provenance.valid and not provenance.trusted
    assert [p.code for p in provenance.problems] == ["signingCredential.untrusted"]
    assert provenance.authors == ("Ada Photographer",)
    assert provenance.made_by == "Ada Photographer"
    assert provenance.actions == (
        Action("c2pa.created", "Test Camera App", "2025-03-01T10:00:00Z", "digitalCapture"),
        Action("c2pa.resized", "Test Editor 2", "2025-03-02T11:30:00Z"),
    )
    assert provenance.claim_generator == "lookalike-tests 1.0"
    assert provenance.title == "photo"
    assert provenance.signer == "Test Shop Studio"
    assert provenance.signer_organization == "Test Shop GmbH"
    assert provenance.certificate_issuer == "Test Shop Root CA"
    assert provenance.signature_algorithm == "Es256"
    assert provenance.signed_at is None  # only a time-stamp authority gives a trustworthy time
    assert not provenance.generative_ai


def test_a_signer_under_a_configured_anchor_is_trusted(signed_jpeg: bytes) -> None:
    provenance = read(signed_jpeg, trust_anchors=signing_chain().ca_pem)

    assert provenance is not None
    assert provenance.status == "trusted"
    assert provenance.valid and provenance.trusted
    assert provenance.problems == ()


def test_another_roots_anchor_does_not_make_it_trusted(signed_jpeg: bytes) -> None:
    other_root = signing_chain(ca_name="Someone Else's Root").ca_pem

    provenance = read(signed_jpeg, trust_anchors=other_root)

    assert provenance is not None and provenance.status == "untrusted"


def test_trust_anchors_that_are_no_certificates_are_a_setup_error_not_a_verdict(signed_jpeg: bytes) -> None:
    with pytest.raises(c2pa.C2paError):
        read_provenance(signed_jpeg, "image/jpeg", trust_anchors="not a certificate")


@pytest.mark.parametrize("format,mime_type", [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp_carry_credentials_too(format: str, mime_type: str) -> None:
    data = sign(encoded(photo(2), format), mime_type, manifest(CREATED_AND_RESIZED, authors=["Ada Photographer"]))

    provenance = read(data, mime_type)

    assert provenance is not None and provenance.status == "untrusted"
    assert provenance.authors == ("Ada Photographer",)
    assert [a.action for a in provenance.actions] == ["c2pa.created", "c2pa.resized"]


def test_edits_are_followed_back_through_the_parent_manifest_oldest_first(signed_jpeg: bytes) -> None:
    studio = signing_chain("Retouch Studio", "Retouch Ltd")
    edits = [
        action("c2pa.opened", parameters={"ingredientIds": ["parent"]}),
        action("c2pa.color_adjustments", "Shop Editor", "2025-04-01T09:00:00Z"),
    ]
    edited = sign(signed_jpeg, "image/jpeg", manifest(edits, generator="Shop Editor"), chain=studio, parent=signed_jpeg)

    provenance = read(edited)

    assert provenance is not None and provenance.status == "untrusted"
    assert [a.action for a in provenance.actions] == ["c2pa.created", "c2pa.resized", "c2pa.opened", "c2pa.color_adjustments"]
    assert provenance.authors == ("Ada Photographer",)  # named in the original's manifest
    assert provenance.signer == "Retouch Studio"  # who signed the latest manifest
    assert provenance.claim_generator == "Shop Editor 1.0"


def test_an_image_made_by_a_generative_model_says_so() -> None:
    data = sign(jpeg(photo(3)), "image/jpeg", manifest([action("c2pa.created", "Image Model", source=GENERATED_BY_AI)]))

    provenance = read(data)

    assert provenance is not None and provenance.generative_ai
    assert provenance.made_by == "Test Shop GmbH"  # no author named: the signer's organisation


def test_pixels_changed_after_signing_make_it_invalid(signed_jpeg: bytes) -> None:
    changed = with_changed_pixels(signed_jpeg)
    original = Image.open(io.BytesIO(signed_jpeg)).convert("RGB")
    assert ImageChops.difference(original, Image.open(io.BytesIO(changed)).convert("RGB")).getbbox() is not None

    provenance = read(changed)

    assert provenance is not None
    assert provenance.status == "invalid" and not provenance.valid
    assert "assertion.dataHash.mismatch" in [p.code for p in provenance.problems]
    assert provenance.authors == ("Ada Photographer",)  # what it claims is still shown, flagged


def test_credentials_copied_onto_another_photo_are_invalid(signed_jpeg: bytes) -> None:
    provenance = read(with_manifest_moved(signed_jpeg, jpeg(photo(4), quality=90)))

    assert provenance is not None and provenance.status == "invalid"
    assert "assertion.dataHash.mismatch" in [p.code for p in provenance.problems]


def test_an_author_rewritten_inside_the_manifest_is_invalid(signed_jpeg: bytes) -> None:
    forged = signed_jpeg.replace(b"Ada Photographer", b"Eve Photographer")

    provenance = read(forged)

    assert provenance is not None and provenance.status == "invalid"
    assert "assertion.hashedURI.mismatch" in [p.code for p in provenance.problems]


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.requests.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listening_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/manifest.c2pa"
    server.shutdown()
    server.server_close()


def test_a_remote_manifest_is_never_fetched(listening_server: str) -> None:
    # The library's default would fetch this URL: a hostile catalogue could make ingest call
    # any address. It is flagged instead, and the server hears nothing.
    data = sign(jpeg(photo(5)), "image/jpeg", manifest(CREATED_AND_RESIZED), remote_url=listening_server)

    provenance = read(data)

    assert _Recorder.requests == []
    assert provenance is not None and provenance.status == "unreadable" and not provenance.valid
    assert [p.code for p in provenance.problems] == ["manifest.inaccessible"]


@pytest.mark.parametrize("format", ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"])
def test_an_image_without_credentials_gives_none(format: str) -> None:
    mime_type = "image/" + format.lower()

    assert read(encoded(photo(6), format), mime_type) is None


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, world", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, bytes(range(256)) * 8, png_bytes()[:30]],
    ids=["empty", "text", "jpeg-start", "png-signature", "binary", "truncated-png"],
)
def test_junk_gives_none(data: bytes) -> None:
    assert read(data) is None


def test_a_truncated_signed_file_is_unreadable_not_an_exception(signed_jpeg: bytes) -> None:
    for length in (len(signed_jpeg) // 2, 400, 40):
        provenance = read(signed_jpeg[:length])

        assert provenance is None or (provenance.status == "unreadable" and provenance.problems)
    half = read(signed_jpeg[: len(signed_jpeg) // 2])
    assert half is not None and half.problems[0].code == "manifest.unreadable"


def test_a_damaged_manifest_is_unreadable_or_invalid(signed_jpeg: bytes) -> None:
    start = signed_jpeg.index(b"c2pa.signature")
    damaged = bytearray(signed_jpeg)
    damaged[start + 200] ^= 0xFF

    provenance = read(bytes(damaged))

    assert provenance is not None and not provenance.valid


@pytest.mark.parametrize("mime_type", ["image/jpeg", "image/png"])
def test_thousands_of_random_mutations_never_raise(mime_type: str) -> None:
    format = "JPEG" if mime_type == "image/jpeg" else "PNG"
    signed = sign(encoded(photo(7, (64, 48)), format), mime_type, manifest(CREATED_AND_RESIZED, authors=["Ada Photographer"]))
    rng = random.Random(18)
    slowest = 0.0
    seen = set()
    for _ in range(1000):
        data = bytearray(signed)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            del data[rng.randrange(len(data)):]
        started = time.perf_counter()
        provenance = read_provenance(bytes(data), mime_type)
        slowest = max(slowest, time.perf_counter() - started)
        if provenance is not None:
            assert provenance.status in STATUSES
            json.dumps(provenance.to_document())
            seen.add(provenance.status)
    assert slowest < READ_SECONDS
    assert {"untrusted", "invalid"} <= seen  # mutations both missed and hit what is signed


def test_a_hostile_manifest_gives_a_bounded_document() -> None:
    long_name = "A" * 5000
    actions = [action("c2pa.created", "Camera\x00\x1b[31m", "not a time", DIGITAL_CAPTURE)]
    actions += [action("c2pa.edited", long_name[:1000], "0001-01-01T00:00:00+05:00") for _ in range(300)]
    authors = [long_name] + [f"Person {i}\n\t" for i in range(50)] + [{"@type": "Person", "name": 42}, {"no": "name"}]
    data = sign(jpeg(photo(8)), "image/jpeg", manifest(actions, authors=authors, generator="G" * 1000, title="T" * 1000))

    provenance = read(data)

    assert provenance is not None
    document = provenance.to_document()
    assert len(document["actions"]) == MAX_ACTIONS
    assert len(document["authors"]) == MAX_AUTHORS
    assert document["authors"][1] == "Person 0"
    strings = [v for v in _strings(document)]
    assert all(len(s) <= MAX_EXPLANATION for s in strings)
    assert all(len(s) <= MAX_TEXT for s in document["authors"] + [document["title"], document["claim_generator"]])
    assert all(s.isprintable() for s in strings)
    assert all("when" not in a or a["when"] == "0001-01-01T00:00:00Z" or a["when"] > "2000" for a in document["actions"])


def test_the_document_matches_the_mapping(signed_jpeg: bytes) -> None:
    provenance = read(signed_jpeg)
    assert provenance is not None

    document = json.loads(json.dumps(provenance.to_document()))

    _check_against(document, MAPPING)
    assert document["status"] == "untrusted" and document["valid"] is True and document["trusted"] is False
    assert document["actions"][0] == {
        "action": "c2pa.created", "software_agent": "Test Camera App",
        "when": "2025-03-01T10:00:00Z", "digital_source_type": "digitalCapture",
    }
    assert document["problems"] == [{"code": "signingCredential.untrusted", "explanation": "signing certificate untrusted"}]
    assert "signed_at" not in document


def test_reads_in_parallel_threads_agree(signed_jpeg: bytes) -> None:
    # Ingest reads a product's photos in threads; every read makes its own library context.
    inputs = [signed_jpeg, with_changed_pixels(signed_jpeg), jpeg(photo(10)), signed_jpeg[:300]] * 10
    expected = [read_provenance(data, "image/jpeg") for data in inputs]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda data: read_provenance(data, "image/jpeg"), inputs))

    assert results == expected
    assert [r.status if r else None for r in results[:4]] == ["untrusted", "invalid", None, "unreadable"]


def test_a_file_over_the_limit_is_not_read(signed_jpeg: bytes) -> None:
    provenance = read(signed_jpeg, max_bytes=1000)

    assert provenance is not None and provenance.status == "unreadable"
    assert provenance.problems[0].code == "manifest.tooLarge"
    assert read(jpeg(photo(9)), max_bytes=100) is None


def test_a_large_photo_is_read_quickly() -> None:
    big = sign(jpeg(Image.effect_noise((2000, 1500), 60).convert("RGB"), quality=90), "image/jpeg", manifest(CREATED_AND_RESIZED))
    assert len(big) > 1_000_000

    started = time.perf_counter()
    for _ in range(5):
        provenance = read_provenance(big, "image/jpeg")
    per_read = (time.perf_counter() - started) / 5

    assert provenance is not None and provenance.status == "untrusted"
    assert per_read < 0.1


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


_TYPES = {"keyword": str, "date": str, "boolean": bool}


def _check_against(document: dict[str, object], mapping: dict[str, object]) -> None:
    properties = mapping["properties"]
    assert isinstance(properties, dict)
    for name, value in document.items():
        assert name in properties, f"{name} is not in the mapping"
        field = properties[name]
        values = value if isinstance(value, list) else [value]
        for item in values:
            if field.get("type", "object") == "object":
                assert isinstance(item, dict)
                _check_against(item, field)
            else:
                assert isinstance(item, _TYPES[field["type"]]), name
