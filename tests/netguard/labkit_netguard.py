"""The test run's network guard: every Python process of `make test` refuses network use beyond this machine.

How: an audit hook (PEP 578) sees each socket connect, UDP send and name lookup before the
system call is made, and raises for any address that is not loopback (or a Unix socket).
`sitecustomize.py` beside this file installs it in every interpreter whose PYTHONPATH holds
this folder: pytest itself, the subprocesses tests start, and every notebook kernel that
nbval starts. Each refused attempt is also appended to $LABKIT_NETGUARD_LOG (if set), so a
test can prove a refusal even in a process that swallowed the error.

Example: python -c "import socket; socket.create_connection(('example.org', 80))" with this
folder on PYTHONPATH -> OSError: labkit's test network guard refused socket.getaddrinfo('example.org', ...)
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys

_LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_INSTALLED = False


def is_local(host) -> bool:
    """True for loopback addresses and names.
    Example: is_local("127.0.0.1") -> True; is_local("example.org") -> False."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0].lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(event: str, detail) -> None:
    message = (
        f"labkit's test network guard refused {event}({detail!r}) in pid {os.getpid()}: tests must not use the network"
    )
    log = os.environ.get("LABKIT_NETGUARD_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{event} {detail!r} pid={os.getpid()}\n")
    raise OSError(message)


def _hook(event: str, args) -> None:
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[1]
        if address is None or getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
            return
        host = address[0] if isinstance(address, tuple) else address
        if not is_local(host):
            _refuse(event, address)
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        if not is_local(args[0]):
            _refuse(event, args[0])


def install() -> bool:
    """Install the guard in this interpreter (once; audit hooks cannot be removed). Example: install() -> True."""
    global _INSTALLED
    if not _INSTALLED and os.environ.get("LABKIT_NETGUARD", "1") != "0":
        sys.addaudithook(_hook)
        _INSTALLED = True
    return _INSTALLED
