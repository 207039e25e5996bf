"""Shared fixtures: the real embedded models, loaded once per session, and no network.

Every test runs with socket connections refused (except to this machine), which proves
that nothing in labkit's default paths reaches a model hub.
"""

import socket

import pytest

import labkit  # noqa: F401  (sets the offline variables before transformers is imported)

_real_connect = socket.socket.connect


def _guarded_connect(self, address, *args, **kwargs):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host.startswith("127.") or host in {"localhost", "::1"} or self.family == socket.AF_UNIX):
        return _real_connect(self, address, *args, **kwargs)
    raise OSError(f"labkit tests block the network: a connection to {address!r} was attempted")


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """Refuse every non-local socket connection for the whole session."""
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(scope="session")
def generator(no_network):
    from labkit.models import load_generator

    return load_generator()


@pytest.fixture(scope="session")
def embedder(no_network):
    from labkit.models import load_embedder

    return load_embedder()
