"""`labkit ask` kept loaded: a background process holds the model, the reader and a folder's index, so a later question
about the same folder answers in about a second instead of loading everything again.

The first `labkit ask` about a folder answers as before (model and index loads included), then starts this module in
the background (`start_server`). The server loads what that question needed (`ask.Asker`: the same code, the same
checks), listens on a Unix socket that only this user can open (in the temporary folder's `labkit-<uid>/`, mode
0700), answers each question as a new `labkit ask` would (the folder's files are hashed again before every answer:
a changed file gets its index rebuilt) and exits after `LABKIT_KEEP_LOADED` minutes without a question (default 10;
0: never started). At most one is kept: a server started for another folder or other settings stops the one before.
`labkit unload` stops it now. Where Unix sockets are missing (Windows), every call loads as before.

Protocol, one question per connection: the client sends a JSON line {"question", "top_k", "as_json"} (or {"stop":
true}) and reads back {"code", "stdout", "stderr"}, which it prints as its own.

Example: ask_via_server(settings, "How long is the return window?", 3, False)
         -> {"code": 0, "stdout": "You can return ... [1].\\n...", "stderr": ""}  (None: no server for these settings)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IDLE_MINUTES = 10.0  # how long a server waits for the next question (LABKIT_KEEP_LOADED overrides)
MAX_REQUEST_BYTES = 1 << 20  # a question is checked for size again by question_check
ANSWER_TIMEOUT_S = 1800  # the client waits this long for an answer (a changed 500-page folder is embedded again)
START_GRACE_S = 180  # a start marker older than this belongs to a server that never came up: start another


def idle_minutes(env: dict | None = None) -> float:
    """Minutes a server waits for another question: LABKIT_KEEP_LOADED, else 10; 0 keeps nothing loaded (the range is
    labkit.limits' "keep_loaded").
    Example: idle_minutes({"LABKIT_KEEP_LOADED": "0"}) -> 0.0; idle_minutes({"LABKIT_KEEP_LOADED": "x"}) -> ValueError
    """
    from labkit.limits import read

    raw = (os.environ if env is None else env).get("LABKIT_KEEP_LOADED", "").strip()
    return IDLE_MINUTES if not raw else float(read("keep_loaded", raw, "LABKIT_KEEP_LOADED"))


def server_dir(base: str | None = None) -> Path | None:
    """The folder of this user's server sockets (made with mode 0700), or None where a server cannot be kept safely:
    no Unix sockets, or the folder is someone else's or others can enter it.
    Example: server_dir() -> PosixPath("/tmp/labkit-1000")"""
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):
        return None
    folder = Path(base or tempfile.gettempdir()) / f"labkit-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    # a folder another user made first, or one others can reach, could let them read your documents' answers
    if info.st_uid != os.getuid() or info.st_mode & 0o077 or not folder.is_dir() or folder.is_symlink():
        return None
    return folder


def settings_of(docs, generator, reader, max_file_mb, follow_links, store, retriever) -> dict:
    """`labkit ask`'s settings as a server is keyed: the folder as an absolute path, so a call from another directory
    finds the same server.
    Example: settings_of("kb", None, "adapter", None, False, None, "hybrid")["docs"] -> "/home/me/kb"
    """
    return {"docs": str(Path(docs).expanduser().resolve()) if docs else None, "generator": generator, "reader": reader,
            "max_file_mb": max_file_mb, "follow_links": bool(follow_links), "store": store, "retriever": retriever}


def _code_digest() -> str:
    # a server started before labkit changed must not answer with the old code: the files' sizes and times are its key
    here = Path(__file__).parent
    return hashlib.sha256("".join(f"{p.name}{p.stat().st_size}{p.stat().st_mtime_ns}"
                                  for p in sorted(here.glob("*.py"))).encode()).hexdigest()


def socket_path(settings: dict, folder: Path) -> Path:
    """Where the server for these settings listens: one socket per settings, cache, interpreter and labkit code.
    Example: socket_path(settings, server_dir()).name -> "3f9c0a1b2c3d4e5f6a7b.sock"."""
    from labkit.config import cache_dir  # not get_config(): it imports torch, seconds this quick path does not spend

    key = json.dumps([settings, str(cache_dir()), sys.executable, _code_digest()], sort_keys=True)
    return folder / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.sock"


def _exchange(path: Path, request: dict, timeout: float) -> dict | None:
    """One request to the server at `path`; None when nobody listens there (a stale socket file is removed)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(str(path))
        except ConnectionRefusedError:
            with contextlib.suppress(OSError):
                path.unlink()  # its server died without removing it
            return None
        except OSError:
            return None
        sock.settimeout(timeout)
        sock.sendall(json.dumps(request).encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        return None  # it stopped mid-answer: answered here instead
    return reply if isinstance(reply, dict) and {"code", "stdout", "stderr"} <= set(reply) else None


def ask_via_server(settings: dict, question: str, top_k: int, as_json: bool) -> dict | None:
    """The server's reply to one question, or None where no server holds these settings (then answer here)."""
    folder = server_dir()
    path = socket_path(settings, folder) if folder else None
    if path is None or not path.exists():
        return None
    try:
        return _exchange(path, {"question": question, "top_k": top_k, "as_json": as_json}, ANSWER_TIMEOUT_S)
    except OSError:
        return None


def start_server(settings: dict, minutes: float) -> Path | None:
    """Start a server for these settings in the background (its own session, so it outlives this call); returns its
    socket's path, or None where none is started (one is starting already, or no safe folder)."""
    folder = server_dir()
    if folder is None or minutes <= 0:
        return None
    path = socket_path(settings, folder)
    marker = path.with_suffix(".starting")
    with contextlib.suppress(OSError):
        if time.time() - marker.stat().st_mtime > START_GRACE_S:
            marker.unlink()
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # one start at a time
    except OSError:
        return None
    log = open(path.with_suffix(".log"), "w", encoding="utf-8")  # noqa: SIM115 (the child writes to it)
    with log:
        subprocess.Popen([sys.executable, "-m", "labkit.ask_server", json.dumps(settings), str(minutes), str(path)],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    return path


def stop_servers(folder: Path | None = None, keep: Path | None = None) -> int:
    """Stop every server of this user but `keep`; returns how many stopped. Example: stop_servers() -> 1"""
    folder = folder or server_dir()
    stopped = 0
    for path in sorted(folder.glob("*.sock")) if folder else []:
        if path != keep and _exchange(path, {"stop": True}, 10) is not None:
            stopped += 1
    return stopped


def running_servers(folder: Path | None = None) -> int:
    """How many servers of this user answer now. Example: running_servers() -> 0"""
    folder = folder or server_dir()
    return sum(_exchange(p, {"ping": True}, 5) is not None for p in sorted(folder.glob("*.sock"))) if folder else 0


def handle(asker, request: dict) -> dict:
    """One question answered as `labkit ask` would, its printed output captured. Example: handle(asker, {"question":
    "How long is the return window?", "top_k": 3, "as_json": False})["code"] -> 0"""
    from labkit.limits import check
    from labkit.question_check import check_question
    from labkit.quiet import quiet_libraries

    out, err = io.StringIO(), io.StringIO()
    code = 2
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            question = check_question(request.get("question"), "The question is empty: type a question in quotes.")
            top_k = check("top_k", request.get("top_k", 3), "--top-k")
            with quiet_libraries(False):
                code = asker.answer(question, top_k=top_k, as_json=bool(request.get("as_json")))
        except (ValueError, FileNotFoundError, RuntimeError, TypeError) as exc:
            print(f"labkit ask: {exc}", file=sys.stderr)
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def serve(settings: dict, minutes: float, path: Path) -> None:
    """The server: load, stop the others, listen at `path` until `minutes` pass without a question or a stop."""
    from labkit.ask import Asker

    marker = path.with_suffix(".starting")
    try:
        asker = Asker(**settings)
        asker.index(progress=False)
        asker.answerer()  # everything a question needs, loaded before the first one arrives
        stop_servers(path.parent, keep=path)  # one model held at a time
        with contextlib.suppress(OSError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(4)
    finally:
        with contextlib.suppress(OSError):
            marker.unlink()
    sock.settimeout(minutes * 60)
    try:
        while True:
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                return  # idle: free the memory
            with conn:
                conn.settimeout(30)
                data = b""
                with contextlib.suppress(OSError):
                    while len(data) <= MAX_REQUEST_BYTES and (chunk := conn.recv(1 << 16)):
                        data += chunk
                try:
                    request = json.loads(data) if len(data) <= MAX_REQUEST_BYTES else None
                except ValueError:
                    request = None
                if not isinstance(request, dict):
                    reply = {"code": 2, "stdout": "", "stderr": "labkit ask: the request was not a question\n"}
                elif request.get("stop") or request.get("ping"):
                    reply = {"code": 0, "stdout": "", "stderr": ""}
                    if request.get("stop"):  # gone before the reply: whoever got it finds no socket left
                        with contextlib.suppress(OSError):
                            path.unlink()
                else:
                    reply = handle(asker, request)
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply).encode())
                if isinstance(request, dict) and request.get("stop"):
                    return
    finally:
        sock.close()
        with contextlib.suppress(OSError):
            path.unlink()


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3]))
