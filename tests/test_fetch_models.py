"""tools/fetch_models.py against a real HTTP server on loopback: fresh download, resume after an
interrupted transfer (HTTP Range), a server that ignores Range, checksum mismatch, offline, and
files without a published hash. Stdlib only; runs in the main venv."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "fetch_models.py"
PAYLOAD = bytes(range(256)) * 4000 + b"tail"  # ~1 MB, not a multiple of the chunk size


class FileServer:
    """Serves {name: bytes} with optional Range support and a one-shot truncated response."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.honor_range = True
        self.truncate_next_at: int | None = None
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                data = server.files.get(name) if self.path == f"/models/{name}" else None
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng and server.honor_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.truncate_next_at is not None:
                    cut, server.truncate_next_at = server.truncate_next_at, None
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/models"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = FileServer({"tiny.bin": PAYLOAD, "nohash.bin": b"no published hash" * 100})
    yield srv
    srv.close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    registry = {"schema": 1, "models": [
        {"name": "tiny", "task": "segment", "family": "sam", "arch": "vit_b", "file": "tiny.bin",
         "url": "https://example.invalid/tiny.bin", "sha256": hashlib.sha256(PAYLOAD).hexdigest(),
         "size": len(PAYLOAD), "licence": "test"},
        {"name": "nohash", "task": "inpaint", "family": "lama", "arch": "torchscript", "file": "nohash.bin",
         "url": "https://example.invalid/nohash.bin", "sha256": None, "size": None, "licence": "test"},
    ]}
    reg_path = tmp_path / "registry.json"
    reg_path.write_text(json.dumps(registry))
    models_dir = tmp_path / "models"
    monkeypatch.setenv("VTA_MODELS_REGISTRY", str(reg_path))
    monkeypatch.setenv("VTA_MODELS_DIR", str(models_dir))
    return {"dir": models_dir, "registry": reg_path}


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))


def test_list_shows_registry_and_state(env):
    out = run_tool("--list")
    assert out.returncode == 0
    assert "tiny" in out.stdout and "missing" in out.stdout
    assert "no published sha256" in out.stdout


def test_fresh_download_is_verified_and_renamed(env, server):
    out = run_tool("tiny", "--base-url", server.url)
    assert out.returncode == 0, out.stderr
    target = env["dir"] / "tiny.bin"
    assert target.read_bytes() == PAYLOAD
    assert not list(env["dir"].glob(".*.part"))
    record = json.loads((env["dir"] / "verified.json").read_text())["tiny.bin"]
    assert record["status"] == "verified"
    assert "[" in out.stderr and "100.0%" in out.stderr  # progress bar was drawn
    # a second run finds it verified without downloading again
    count = len(server.requests)
    again = run_tool("tiny", "--base-url", server.url)
    assert again.returncode == 0 and len(server.requests) == count


def test_interrupted_download_resumes_with_range(env, server):
    server.truncate_next_at = 300_000
    first = run_tool("tiny", "--base-url", server.url)
    assert first.returncode == 1
    assert "resume" in first.stderr
    part = env["dir"] / ".tiny.bin.part"
    assert part.stat().st_size == 300_000
    assert not (env["dir"] / "tiny.bin").exists()  # nothing half-written under the real name

    second = run_tool("tiny", "--base-url", server.url)
    assert second.returncode == 0, second.stderr
    assert server.requests[-1]["range"] == "bytes=300000-"
    assert (env["dir"] / "tiny.bin").read_bytes() == PAYLOAD
    assert not part.exists()


def test_server_without_range_support_restarts_cleanly(env, server):
    env["dir"].mkdir(parents=True)
    (env["dir"] / ".tiny.bin.part").write_bytes(PAYLOAD[:1000])
    server.honor_range = False
    out = run_tool("tiny", "--base-url", server.url)
    assert out.returncode == 0, out.stderr
    assert (env["dir"] / "tiny.bin").read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_download(env, server):
    server.files["tiny.bin"] = PAYLOAD[:-4] + b"EVIL"
    out = run_tool("tiny", "--base-url", server.url)
    assert out.returncode == 1
    assert "checksum mismatch" in out.stderr
    assert not (env["dir"] / "tiny.bin").exists()
    assert not list(env["dir"].glob(".*.part"))


def test_corrupt_existing_file_is_downloaded_again(env, server):
    env["dir"].mkdir(parents=True)
    (env["dir"] / "tiny.bin").write_bytes(b"truncated")
    out = run_tool("tiny", "--base-url", server.url)
    assert out.returncode == 0, out.stderr
    assert (env["dir"] / "tiny.bin").read_bytes() == PAYLOAD


def test_offline_says_what_to_do(env):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = run_tool("tiny", "--base-url", f"http://127.0.0.1:{port}/m", "--timeout", "5")
    assert out.returncode == 1
    assert "unreachable" in out.stderr
    assert f"http://127.0.0.1:{port}/m/tiny.bin" in out.stderr  # where to get it
    assert str(env["dir"] / "tiny.bin") in out.stderr  # where to put it
    assert hashlib.sha256(PAYLOAD).hexdigest() in out.stderr


def test_http_error_is_reported(env, server):
    out = run_tool("tiny", "--base-url", server.url + "/missing")
    assert out.returncode == 1
    assert "HTTP 404" in out.stderr


def test_model_without_published_hash_needs_explicit_trust(env, server):
    sys.path.insert(0, str(ROOT))
    import models

    out = run_tool("nohash", "--base-url", server.url)
    assert out.returncode == 2
    assert "NOT verified" in out.stderr
    assert models.check("nohash") == "unverified"
    with pytest.raises(models.ModelError, match="trust-first-download"):
        models.require_verified("nohash")

    out = run_tool("nohash", "--base-url", server.url, "--trust-first-download")
    assert out.returncode == 0, out.stderr
    assert models.check("nohash") == "trusted"
    assert models.require_verified("nohash").name == "nohash.bin"


def test_missing_reason_names_folder_and_command(env):
    sys.path.insert(0, str(ROOT))
    import models

    reason = models.missing_reason(["tiny"])
    assert "tiny" in reason and "fetch_models.py tiny" in reason and "models" in reason


def test_packaged_registry_is_complete(monkeypatch):
    monkeypatch.delenv("VTA_MODELS_REGISTRY", raising=False)
    sys.path.insert(0, str(ROOT))
    import models

    reg = models.load_registry()
    for name in ["sam_vit_b", "sam_vit_l", "sam_vit_h", "sam2.1_hiera_tiny", "sam2.1_hiera_small",
                 "sam2.1_hiera_base_plus", "sam2.1_hiera_large", "big_lama"]:
        m = reg[name]
        assert m.url.startswith("https://") and m.url.endswith(m.file)
        assert m.licence
        assert m.sha256 is None or (len(m.sha256) == 64 and int(m.sha256, 16) >= 0)
        if m.sha256:
            assert m.extra.get("sha256_source"), f"{name}: sha256 without a stated source"
    assert all(reg[n].config for n in models.names_for("sam2"))
