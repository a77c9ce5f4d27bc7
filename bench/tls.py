"""Throwaway TLS certificates for the https and h2-tls scenarios, made at run time.

A CA made by trustme signs one server certificate for 127.0.0.1 (and localhost);
every server gets the same certificate and key files, and the harness's own
readiness check trusts that CA, so it also checks that each server presents the
certificate it was given. The load generators (wrk, h2load) do not verify
certificates at all.
"""

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization

# ECDSA P-256 (trustme's default): what most sites serve today. Its cost is
# paid once per connection; the scenarios keep their connections open.
KEY_TYPE = trustme.KeyType.ECDSA
KEY_DESCRIPTION = "ECDSA P-256"


@dataclass(frozen=True)
class TlsFiles:
    certfile: Path  # the server's certificate, then its chain (here: none above the leaf)
    keyfile: Path  # unencrypted PKCS#8, the one format every server here reads
    cafile: Path  # the CA that signed certfile, for clients that verify

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this run's CA."""
        return ssl.create_default_context(cafile=str(self.cafile))


def make(directory: Path) -> TlsFiles:
    """Writes a fresh CA and a server certificate for 127.0.0.1 into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(key_type=KEY_TYPE)
    leaf = ca.issue_cert("127.0.0.1", "localhost", key_type=KEY_TYPE)
    files = TlsFiles(directory / "server.pem", directory / "server.key", directory / "ca.pem")
    files.certfile.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    # trustme writes the key in OpenSSL's traditional format ("EC PRIVATE KEY");
    # granian reads PKCS#8 only, and the others read both.
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    files.keyfile.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    files.keyfile.chmod(0o600)
    ca.cert_pem.write_to_path(str(files.cafile))
    return files
