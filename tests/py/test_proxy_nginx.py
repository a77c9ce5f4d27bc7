"""subcorn behind a real nginx, started by the test as a non-root process in
a temporary directory: the app must see the real client and the scheme the
client used. nginx as a plain reverse proxy (the configuration in
docs/deployment.md, verbatim), terminating TLS in front of subcorn, and as a
TCP proxy sending the PROXY protocol (`proxy_protocol on`, the stream
module); Django's is_secure() and build_absolute_uri() behind it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import trustme

from harness import free_port

pytestmark = pytest.mark.subcorn_only

# The location block of docs/deployment.md's "Behind nginx", verbatim.
PROXY_LOCATION = """\
        location / {
            proxy_pass http://127.0.0.1:8000;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host:$server_port;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
"""

# The stream block of docs/deployment.md's "Behind a load balancer with the
# PROXY protocol", verbatim.
PROXY_PROTOCOL_STREAM = """\
  stream {
      server {
          listen 443;
          proxy_pass 10.0.1.5:8000;
          proxy_protocol on;
      }
  }
"""
# Debian's libnginx-mod-stream.
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


def _documented_block(marker: str, docs_block: str) -> str:
    docs = (Path(__file__).parents[2] / "docs" / "deployment.md").read_text()
    assert docs_block in docs, f"docs/deployment.md no longer has the {marker} block this test runs"
    return docs_block


class Nginx:
    def __init__(self, workdir: Path, backend_port: int, *, tls: tuple[Path, Path] | None = None,
                 proxy_protocol: bool = False):
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        listen = f"listen 127.0.0.1:{self.port}"
        if tls:
            listen += f" ssl;\n        ssl_certificate {tls[0]};\n        ssl_certificate_key {tls[1]}"
        location = _documented_block("location", PROXY_LOCATION).replace("127.0.0.1:8000", f"127.0.0.1:{backend_port}")
        stream = ""
        if proxy_protocol:
            # A TCP proxy: no http block's server; nginx writes the PROXY
            # header (v1) and then passes the client's bytes (TLS too) through.
            stream = (_documented_block("stream", PROXY_PROTOCOL_STREAM)
                      .replace("listen 443", f"listen 127.0.0.1:{self.port}")
                      .replace("10.0.1.5:8000", f"127.0.0.1:{backend_port}"))
            location, listen = "", ""
        head = f"load_module {STREAM_MODULE};\n" if proxy_protocol else ""
        server = f"""    server {{
        {listen};
        server_name shop.example;
{location}    }}
""" if listen else ""
        (workdir / "nginx.conf").write_text(f"""\
{head}worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 64; }}
{stream}http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
{server}}}
""")
        self.proc = subprocess.Popen(
            ["nginx", "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e",
             str(workdir / "error.log")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import socket
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.proc.poll() is None, self.proc.stdout.read().decode()
                time.sleep(0.05)
        raise AssertionError("nginx did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def nginx(tmp_path):
    started: list[Nginx] = []

    def start(backend_port: int, **kwargs) -> Nginx:
        n = Nginx(tmp_path / f"nginx{len(started)}", backend_port, **kwargs)
        started.append(n)
        return n

    yield start
    for n in started:
        n.stop()


def client_from(address: str, **kwargs) -> httpx.Client:
    """A client whose connections come from `address` (any 127/8 address is loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address, **kwargs))


@pytest.fixture
def pki(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("shop.example", "localhost", "127.0.0.1")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(cert_path)
    cert.private_key_pem.write_to_path(key_path)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_path)
    return cert_path, key_path, ca_path


def test_nginx_plain_the_app_sees_the_client_and_scheme(server, nginx):
    s = server("echo_scope:app")
    n = nginx(s.port)
    # The client (from 127.0.0.2, which is no trusted proxy) forges
    # X-Forwarded-For; nginx appends the peer it saw.
    with client_from("127.0.0.2") as client:
        r = client.get(f"http://127.0.0.1:{n.port}/", headers={"X-Forwarded-For": "6.6.6.6",
                                                               "Host": "shop.example"})
    scope = r.json()
    assert scope["client"] == ["127.0.0.2", 0]  # nginx's view of the client, not 6.6.6.6
    assert scope["scheme"] == "http"
    assert scope["server"] == ["shop.example", n.port]
    headers = dict((k, v) for k, v in scope["headers"])
    assert headers["x-forwarded-for"] == "6.6.6.6, 127.0.0.2"


def test_nginx_plain_from_an_untrusted_nginx_changes_nothing(server, nginx):
    s = server("echo_scope:app", "--forwarded-allow-ips", "10.0.0.1")
    n = nginx(s.port)
    scope = httpx.get(f"http://127.0.0.1:{n.port}/", headers={"X-Forwarded-For": "6.6.6.6"}).json()
    # nginx is the peer, and its headers are not believed.
    assert scope["client"][0] == "127.0.0.1" and scope["client"][1] != 0
    assert scope["server"] == ["127.0.0.1", s.port]


def test_nginx_terminating_tls_gives_https(server, nginx, pki):
    cert, key, ca = pki
    s = server("echo_scope:app")
    n = nginx(s.port, tls=(cert, key))
    with client_from("127.0.0.3", verify=str(ca)) as client:
        scope = client.get(f"https://localhost:{n.port}/").json()
    assert scope["scheme"] == "https"
    assert scope["client"] == ["127.0.0.3", 0]
    assert scope["server"] == ["localhost", n.port]


def test_django_behind_nginx_with_tls(server, nginx, pki):
    cert, key, ca = pki
    s = server("proxy_django:application")
    n = nginx(s.port, tls=(cert, key))
    with client_from("127.0.0.4", verify=str(ca)) as client:
        seen = client.get(f"https://localhost:{n.port}/whoami",
                          headers={"Host": f"shop.example:{n.port}"},
                          extensions={"sni_hostname": "localhost"}).json()
    assert seen["is_secure"] is True
    assert seen["absolute_uri"] == f"https://shop.example:{n.port}/whoami"
    assert seen["remote_addr"] == "127.0.0.4"
    # Straight to subcorn from an untrusted address nothing is believed: plain http.
    s2 = server("proxy_django:application", "--forwarded-allow-ips", "10.0.0.1")
    seen = httpx.get(f"http://127.0.0.1:{s2.port}/whoami",
                     headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example"}).json()
    assert seen["is_secure"] is False
    assert seen["absolute_uri"] == f"http://127.0.0.1:{s2.port}/whoami"



def test_nginx_proxy_protocol_gives_the_client_address_and_port(server, nginx):
    s = server("echo_scope:app", "--proxy-protocol")
    n = nginx(s.port, proxy_protocol=True)
    with client_from("127.0.0.5") as client:
        scope = client.get(f"http://127.0.0.1:{n.port}/", headers={"X-Forwarded-For": "6.6.6.6"}).json()
    # The PROXY header carries the client's own address and port, which
    # nothing in HTTP can forge.
    assert scope["client"][0] == "127.0.0.5" and scope["client"][1] != 0
    assert scope["scheme"] == "http"
    assert scope["server"] == ["127.0.0.1", n.port]
    # Straight to subcorn without the header: closed without an answer.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{s.port}/")


def test_nginx_proxy_protocol_in_front_of_tls(server, nginx, pki):
    cert, key, ca = pki
    s = server("echo_scope:app", "--proxy-protocol", "--ssl-certfile", str(cert),
               "--ssl-keyfile", str(key))
    n = nginx(s.port, proxy_protocol=True)
    with client_from("127.0.0.6", verify=str(ca)) as client:
        scope = client.get(f"https://localhost:{n.port}/").json()
    # nginx passes TLS through untouched: subcorn terminates it after the header.
    assert scope["scheme"] == "https"
    assert scope["client"][0] == "127.0.0.6" and scope["client"][1] != 0
    # The header's destination is the address the client connected to: nginx's.
    assert scope["server"] == ["127.0.0.1", n.port]
