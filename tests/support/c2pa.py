"""Images signed with Content Credentials (C2PA), made on the spot with certificates made on the spot.

c2pa-rs refuses to sign with a certificate outside the C2PA profile. What it takes (found by
trying, c2pa-python 0.38.1 / c2pa-rs 0.91.3): an end-entity certificate (``cA`` false), not
self-signed but issued by a CA certificate that is sent along in the chain, with the key
usage ``digitalSignature``, an extended key usage of ``emailProtection`` (``documentSigning``
fails verification under the default trust configuration; none, or ``serverAuth``, is
refused), an authority key identifier, and valid at the time of signing.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import io
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DIGITAL_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
GENERATED_BY_AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

_NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
_NOT_AFTER = datetime.datetime(2120, 1, 1, tzinfo=datetime.timezone.utc)
_PEM = serialization.Encoding.PEM


@dataclasses.dataclass(frozen=True)
class SigningChain:
    ca_pem: str  # the root, to give the reader as a trust anchor
    chain_pem: bytes  # the signer's certificate, then the root
    key_pem: bytes

    def signer(self) -> c2pa.Signer:
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, self.chain_pem, self.key_pem, None)
        return c2pa.Signer.from_info(info)


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
    ])


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=not signing, crl_sign=not signing, encipher_only=False, decipher_only=False,
    )


@functools.lru_cache(maxsize=None)
def signing_chain(common_name: str = "Test Shop Studio", organization: str = "Test Shop GmbH",
                  ca_name: str = "Test Shop Root CA") -> SigningChain:
    """An ES256 signer certificate for *common_name* at *organization*, issued by a fresh root CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = _name(ca_name, organization)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_subject).issuer_name(ca_subject).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(_NOT_BEFORE).not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization)).issuer_name(ca_subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(_NOT_BEFORE).not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return SigningChain(ca.public_bytes(_PEM).decode(), leaf.public_bytes(_PEM) + ca.public_bytes(_PEM), key_pem)


def action(name: str, agent: str | None = None, when: str | None = None, source: str | None = None,
           **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"action": name, **extra}
    if agent is not None:
        entry["softwareAgent"] = {"name": agent}
    if when is not None:
        entry["when"] = when
    if source is not None:
        entry["digitalSourceType"] = source
    return entry


def manifest(actions: list[dict[str, Any]], authors: list[Any] | None = None, generator: str = "lookalike-tests",
             title: str = "photo") -> dict[str, Any]:
    """A manifest definition: a schema.org CreativeWork naming *authors*, and *actions*."""
    assertions: list[dict[str, Any]] = []
    if authors:
        people = [{"@type": "Person", "name": a} if isinstance(a, str) else a for a in authors]
        assertions.append({
            "label": "stds.schema-org.CreativeWork",
            "data": {"@context": "https://schema.org", "@type": "CreativeWork", "author": people},
        })
    assertions.append({"label": "c2pa.actions", "data": {"actions": actions}})
    return {"claim_generator_info": [{"name": generator, "version": "1.0"}], "title": title, "assertions": assertions}


def sign(data: bytes, mime_type: str, definition: dict[str, Any], chain: SigningChain | None = None,
         parent: bytes | None = None, remote_url: str | None = None) -> bytes:
    """*data* with *definition* signed into it. With *parent*, the manifest records the image
    it was edited from (its actions must then start with ``c2pa.opened`` of ingredient ``parent``).
    With *remote_url*, the manifest is left out and the image only points at that URL."""
    chain = chain or signing_chain()
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    builder = c2pa.Builder(definition, context=context)
    if parent is not None:
        builder.add_ingredient({"title": "parent", "relationship": "parentOf", "label": "parent"}, mime_type, io.BytesIO(parent))
    if remote_url is not None:
        builder.set_no_embed()
        builder.set_remote_url(remote_url)
    out = io.BytesIO()
    builder.sign(chain.signer(), mime_type, io.BytesIO(data), out)
    return out.getvalue()


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """``(marker, start, end)`` of each JPEG segment before the scan data, the scan itself last."""
    segments = []
    position = 2
    while position + 4 <= len(data):
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segments.append((marker, position, position + 2 + length))
        if marker == 0xDA:  # start of scan: the entropy-coded data follows, up to EOI
            segments.append((0x00, position + 2 + length, len(data) - 2))
            break
        position += 2 + length
    return segments


def with_changed_pixels(jpeg: bytes) -> bytes:
    """The JPEG with a few bytes of its compressed pixels changed, the rest (manifest included) as it was."""
    _, start, end = jpeg_segments(jpeg)[-1]
    data = bytearray(jpeg)
    middle = (start + end) // 2
    for i in range(middle, middle + 8):
        # Only bytes 0x10-0xEF, and not after 0xFF: flipping the low half keeps them there,
        # so no marker appears or disappears and the file still decodes, to other pixels.
        if 0x10 <= data[i] <= 0xEF and data[i - 1] != 0xFF:
            data[i] ^= 0x0F
    return bytes(data)


def with_manifest_moved(signed_jpeg: bytes, other_jpeg: bytes) -> bytes:
    """*other_jpeg* carrying the C2PA segments (APP11) of *signed_jpeg*: credentials copied onto another photo."""
    app11 = b"".join(signed_jpeg[s:e] for marker, s, e in jpeg_segments(signed_jpeg) if marker == 0xEB)
    return other_jpeg[:2] + app11 + other_jpeg[2:]
