"""The test run's network guard (tests/netguard) catches every way out, in this process and in subprocesses.

The probes that try to reach the outside run inside a fresh network namespace with no
interfaces (`unshare -rn`), so that even a broken guard could not send a packet off this
machine; where the kernel forbids user namespaces, those probes are skipped with a message.
"""

import os
import shutil
import socket
import subprocess
import sys
import textwrap

import labkit_netguard
import pytest

PROBES = textwrap.dedent("""
    import socket, subprocess, sys
    results = {}
    def attempt(name, fn):
        try:
            fn()
            results[name] = "went through"
        except OSError as exc:
            results[name] = "refused" if "network guard" in str(exc) else f"other: {exc}"
    def tcp_connect_ex():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(1); s.connect_ex(("192.0.2.1", 9))
    def udp_sendto():
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53))
    attempt("connect_ex", tcp_connect_ex)
    attempt("udp_sendto", udp_sendto)
    attempt("dns", lambda: socket.getaddrinfo("example.org", 443))
    attempt("create_connection", lambda: socket.create_connection(("198.51.100.7", 80), timeout=1))
    child = subprocess.run([sys.executable, "-c", "import socket; socket.getaddrinfo('example.net', 80)"], \
capture_output=True, text=True)
    results["subprocess"] = "refused" if "network guard" in child.stderr \
else f"other: rc={child.returncode} {child.stderr[-200:]}"
    print(results)
""")


def _namespace_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


@pytest.mark.parametrize("host, local", [("127.0.0.1", True), ("::1", True), ("localhost", True), (None, True),
                                         ("192.0.2.1", False), ("example.org", False), ("10.0.0.1", False)])
def test_is_local(host, local):
    assert labkit_netguard.is_local(host) is local


def test_guard_is_active_here_and_inherited_by_subprocesses():
    assert labkit_netguard.install()
    code = "import sys; print('labkit_netguard' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr


def test_loopback_still_works():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=5)
    peer, _ = server.accept()
    client.sendall(b"ok")
    assert peer.recv(2) == b"ok"
    for s in (client, peer, server):
        s.close()


@pytest.mark.skipif(not _namespace_available(), reason="unshare -rn is not allowed here (no user namespaces): "
                    "the outward probes are skipped rather than risk a packet leaving the machine")
def test_guard_refuses_connect_ex_udp_dns_and_subprocesses(tmp_path):
    log = tmp_path / "refused.log"
    env = os.environ | {"LABKIT_NETGUARD_LOG": str(log)}
    out = subprocess.run(["unshare", "-rn", sys.executable, "-c", PROBES], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    results = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307  (our own probe's dict)
    assert results == {k: "refused" for k
                       in ("connect_ex", "udp_sendto", "dns", "create_connection", "subprocess")}, results
    lines = log.read_text().splitlines()
    assert len(lines) == 5 and any("example.net" in line for line in lines)  # the child's refusal was logged too
