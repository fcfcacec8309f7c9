"""HTTPS served by ``lookalike serve`` itself (``api/server.py``, :class:`TLSChannel`).

The real command runs as an operator runs it, with ``LOOKALIKE_TLS_CERT`` and
``LOOKALIKE_TLS_KEY`` naming a self-signed certificate for localhost and 127.0.0.1 made here.
Clients verify it as their only CA, hostname included: nothing is left unverified. Plain HTTP
on that port gets a 400 naming HTTPS, and clients that connect and never finish a handshake
cost only themselves: they count against their address's connection cap and are dropped at the
read deadline, while a shopper elsewhere searches as usual.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from plugin.config import Config
from tests.support.cli import LOOKALIKE, free_port
from tests.support.images import degraded
from tests.support.sockets import closed_within

#: The hostile client's address and the shopper's: loopback answers on all of 127.0.0.0/8.
ATTACKER = "127.0.0.2"
SHOPPER = "127.0.0.3"
#: The served limits, small so the tests are quick.
READ_TIMEOUT = 2.0
CLIENT_CONNECTIONS = 8
#: What a shopper may wait under attack.
PROMPT = 1.0


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@dataclass
class HttpsServer:
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def self_signed(directory: Path) -> Certificate:
    """A certificate for localhost and 127.0.0.1, signed by its own key (as ``openssl req -x509`` makes one)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / "api.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private = directory / "api-key.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    private.chmod(0o600)
    return Certificate(cert, private)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def trusting(certificate: Certificate) -> ssl.SSLContext:
    """A client context whose only CA is the server's certificate, verifying it and the host name as browsers do."""
    context = ssl.create_default_context(cafile=str(certificate.cert))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    return context


def serve_env(config: Config, certificate: Certificate) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKALIKE_", "OPENSEARCH_", "CELERY_"))}
    env.update(
        OPENSEARCH_URL=config.opensearch_url,
        LOOKALIKE_INDEX_ALIAS=config.index_alias,
        LOOKALIKE_DATA_DIR=str(config.data_dir),
        LOOKALIKE_INFERENCE_THREADS="1",
        LOOKALIKE_RATE_LIMIT_STORAGE="memory://",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0",  # no broker: only the admin needs one
        LOOKALIKE_SERVE_READ_TIMEOUT=str(READ_TIMEOUT),
        LOOKALIKE_SERVE_CLIENT_CONNECTIONS=str(CLIENT_CONNECTIONS),
        LOOKALIKE_TLS_CERT=str(certificate.cert),
        LOOKALIKE_TLS_KEY=str(certificate.key),
    )
    return env


@pytest.fixture(scope="module")
def https_server(shop_config: Config, certificate: Certificate, trusting: ssl.SSLContext, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    """``lookalike serve`` over the demo shop, HTTPS only, once it answers ``/health`` over TLS."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [LOOKALIKE, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "4"],
            env=serve_env(shop_config, certificate), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = HttpsServer(port, process, log)
    try:
        wait_until_healthy(server, trusting)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(server: HttpsServer, context: ssl.SSLContext, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"lookalike serve exited:\n{server.log.read_text()[-3000:]}")
        try:
            if request(server, context, "GET", "/health", timeout=2)[0] == 200:
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"lookalike serve did not answer over HTTPS in time:\n{server.log.read_text()[-3000:]}")


def request(server: HttpsServer, context: ssl.SSLContext, method: str, path: str, body: Any = None, host: str = "127.0.0.1",
            source: str = SHOPPER, timeout: float = 30) -> tuple[int, bytes]:
    """One request over a fresh HTTPS connection from *source*; the status and body."""
    connection = http.client.HTTPSConnection(host, server.port, context=context, timeout=timeout, source_address=(source, 0))
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"} if payload else {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def photo(products: dict[str, dict[str, Any]]) -> str:
    return base64.b64encode(degraded(products["Tent"]["images"][0])).decode()


def test_serve_announces_https(https_server: HttpsServer) -> None:
    first_line = https_server.log.read_text().splitlines()[0]

    assert first_line.startswith(f"lookalike API on https://127.0.0.1:{https_server.port} ")


def test_searches_over_one_verified_tls_connection_are_answered(https_server: HttpsServer, trusting: ssl.SSLContext, photo: str) -> None:
    text = json.dumps({"text": "tent", "size": 3}).encode()
    bodies = [
        text,
        json.dumps({"image_base64": photo, "size": 3}).encode(),  # many TLS records
        # One record of 10 KB (the request is sent whole), more than waitress reads at once: the rest
        # waits decrypted inside OpenSSL, where poll() cannot see it, and must not wait for the deadline.
        text + b" " * 10_000,
        text,
    ]
    connection = http.client.HTTPSConnection("localhost", https_server.port, context=trusting, timeout=30)
    answers = []
    try:
        for body in bodies:  # on one kept-alive connection
            connection.request("POST", "/search", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read())))
        assert connection.sock is not None
        version = connection.sock.version()
    finally:
        connection.close()

    assert len(photo) > 4 * 16384
    assert [status for status, _ in answers] == [200] * len(bodies)
    assert all(body["hits"][0]["title"] == "Tent" for _, body in answers)
    assert version in ("TLSv1.2", "TLSv1.3")


def test_a_client_that_does_not_trust_the_certificate_gets_no_answer(https_server: HttpsServer) -> None:
    # Proof that the test's clients verify: without the certificate as CA the handshake fails on the client's side.
    with pytest.raises(ssl.SSLCertVerificationError):
        request(https_server, ssl.create_default_context(), "POST", "/search", {"text": "tent"})


@pytest.mark.parametrize(("method", "path"), [("GET", "/health"), ("POST", "/search")])
def test_plain_http_on_the_https_port_is_refused_with_a_400_naming_https(https_server: HttpsServer, method: str, path: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", https_server.port, timeout=10)
    try:
        connection.request(method, path, body=b'{"text": "tent"}' if method == "POST" else None, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()

    assert status == 400
    assert b"HTTPS only" in body and b"https://" in body
    assert b"hits" not in body and b"status" not in body  # no page of the API's, not even /health


def connect_and_stall(count: int, server: HttpsServer, first_bytes: bytes = b"") -> list[socket.socket]:
    """*count* connections from the attacker that send *first_bytes* (perhaps nothing) and then nothing more."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5, source_address=(ATTACKER, 0))
        if first_bytes:
            sock.sendall(first_bytes)
        sockets.append(sock)
    return sockets


def test_clients_that_never_finish_a_handshake_starve_no_one(https_server: HttpsServer, trusting: ssl.SSLContext, photo: str) -> None:
    # Half of them send nothing at all; the other half the first bytes of a ClientHello (a handshake record of 512 bytes).
    attack = connect_and_stall(20, https_server) + connect_and_stall(20, https_server, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    try:
        started = time.monotonic()
        assert request(https_server, trusting, "GET", "/health")[0] == 200
        status, body = request(https_server, trusting, "POST", "/search", {"image_base64": photo, "size": 3})
        shopper_waited = time.monotonic() - started

        closed = sorted(closed_within(attack, READ_TIMEOUT + 3))
    finally:
        for sock in attack:
            sock.close()

    assert status == 200 and json.loads(body)["hits"][0]["title"] == "Tent"
    assert shopper_waited < 2 * PROMPT
    assert len(closed) == 40  # every one, in the end
    assert closed[40 - CLIENT_CONNECTIONS - 1] < 1.0  # those over the per-client cap at once
    assert all(READ_TIMEOUT - 1.5 < seconds < READ_TIMEOUT + 2.5 for seconds in closed[40 - CLIENT_CONNECTIONS:])  # the rest at the deadline


def test_a_key_that_is_not_the_certificates_ends_serve_in_one_sentence_at_once(cli_env: dict[str, str], tmp_path: Path) -> None:
    ours, theirs = self_signed(tmp_path / "ours"), self_signed(tmp_path / "theirs")
    env = {**cli_env, "LOOKALIKE_TLS_CERT": str(ours.cert), "LOOKALIKE_TLS_KEY": str(theirs.key)}
    started = time.monotonic()
    result = subprocess.run([LOOKALIKE, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1 and result.stdout == ""  # it never announced an API
    assert result.stderr.strip() == (
        f"Error: cannot serve HTTPS with LOOKALIKE_TLS_CERT={str(ours.cert)!r} and LOOKALIKE_TLS_KEY={str(theirs.key)!r}: "
        "the key is not the certificate's"
    )
    assert time.monotonic() - started < 5  # before the model loaded
