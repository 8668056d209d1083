"""Who may connect and what may be touched: token, loopback, allowed roots (no traversal, no
symlink escape), body size limits, and the client's protocol check."""

from __future__ import annotations

import http.client
import json
import subprocess

import pytest

from engine.evaluation.synthetic import SyntheticClip
from tests.conftest_server import PYTHON, REPO, EngineProcess, free_port, load_client

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """An engine with a token, one allowed root, and a 1 MiB upload limit."""
    base = tmp_path_factory.mktemp("guarded")
    allowed, outside = base / "allowed", base / "outside"
    allowed.mkdir()
    outside.mkdir()
    clip = SyntheticClip(64, 48, 4)
    clip.write_movie(allowed / "in.mp4")
    clip.write_movie(outside / "out.mp4")
    (allowed / "link.mp4").symlink_to(outside / "out.mp4")
    (allowed / "linkdir").symlink_to(outside, target_is_directory=True)
    proc = EngineProcess(base, args=("--max-upload-mb", "1"), token=TOKEN, roots=[allowed]).start()
    proc.allowed, proc.outside = allowed, outside
    yield proc
    proc.stop()


def raw(engine, method, path, body=None, headers=None, chunked=False):
    conn = http.client.HTTPConnection("127.0.0.1", engine.port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_token_required_on_every_request(guarded):
    for path in ("/v1/health", "/openapi.json", "/v1/sessions", "/docs"):
        status, body = raw(guarded, "GET", path)
        assert status == 401 and "token" in json.loads(body)["error"]
        assert raw(guarded, "GET", path, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert raw(guarded, "GET", "/v1/health", headers=AUTH)[0] == 200
    Client = load_client()
    with pytest.raises(Client.EngineHTTPError) as err:
        Client.EngineClient(guarded.url).connect()
    assert err.value.status == 401
    assert guarded.client().connect()["auth"] is True


def test_refuses_network_address_without_token(tmp_path):
    result = subprocess.run([PYTHON, "-m", "engine.server", "--host", "0.0.0.0", "--port", str(free_port()),
                             "--state-dir", str(tmp_path / "state")], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "without --token" in result.stderr and "Traceback" not in result.stderr


def test_only_allowed_roots(guarded):
    client = guarded.client()
    assert client.open_session(str(guarded.allowed / "in.mp4"))["frame_count"] == 4
    Err = load_client().EngineHTTPError
    for path in (guarded.outside / "out.mp4",                      # outside
                 f"{guarded.allowed}/../outside/out.mp4",          # traversal
                 guarded.allowed / "link.mp4",                     # symlink to a file outside
                 guarded.allowed / "linkdir" / "out.mp4",          # through a symlinked folder
                 "/etc/passwd"):
        with pytest.raises(Err) as err:
            client.open_session(str(path))
        assert err.value.status == 403 and "outside the folders" in str(err.value), path
    with pytest.raises(Err) as err:
        client.open_session("in.mp4")
    assert err.value.status == 400


def test_body_size_limits(guarded):
    big = json.dumps({"path": "x" * (2 * 1024 * 1024)}).encode()
    status, body = raw(guarded, "POST", "/v1/sessions", big, {**AUTH, "Content-Type": "application/json"})
    assert status == 413 and "limit" in json.loads(body)["error"]
    # no Content-Length (chunked): counted as it arrives
    status, body = raw(guarded, "POST", "/v1/sessions", iter([b"{" + b" " * 65536] * 40),
                       {**AUTH, "Content-Type": "application/json"}, chunked=True)
    assert status == 413, body
    status, body = raw(guarded, "POST", "/v1/uploads", json.dumps({"sha256": "a" * 64, "size": 5 * 1024 * 1024}),
                       {**AUTH, "Content-Type": "application/json"})
    assert status == 413 and "up to" in json.loads(body)["error"]
    status, body = raw(guarded, "PUT", "/v1/uploads/" + "a" * 64 + "?offset=0", b"\0" * (17 * 1024 * 1024),
                       {**AUTH, "Content-Type": "application/octet-stream"})
    assert status == 413


def test_malformed_requests_get_4xx_json(guarded):
    h = {**AUTH, "Content-Type": "application/json"}
    for method, path, body in [("POST", "/v1/sessions", b"{not json"),
                               ("POST", "/v1/sessions", b"[]"),
                               ("POST", "/v1/sessions", json.dumps({"path": "/x", "upload": "y"}).encode()),
                               ("POST", "/v1/uploads", json.dumps({"sha256": "zz", "size": -1}).encode()),
                               ("GET", "/v1/uploads/..%2F..%2Fetc", None),
                               ("GET", "/v1/jobs/nope/events", None),
                               ("POST", "/v1/sessions/x/objects/1/clicks", json.dumps({"frame": -1, "x": 1, "y": 1}).encode())]:
        status, data = raw(guarded, method, path, body, h)
        assert 400 <= status < 500 and json.loads(data)["error"], (path, status, data)


def test_client_protocol_mismatch_and_unreachable(guarded, monkeypatch):
    Client = load_client()
    monkeypatch.setattr(Client, "PROTOCOL", 2)
    with pytest.raises(Client.ProtocolMismatch) as err:
        guarded.client().connect()
    assert "engine protocol 1" in str(err.value) and "add-on speaks 2" in str(err.value)
    assert "update the engine" in str(err.value)
    monkeypatch.setattr(Client, "PROTOCOL", 0)
    with pytest.raises(Client.ProtocolMismatch, match="update the add-on"):
        guarded.client().connect()
    with pytest.raises(Client.EngineUnreachable, match="no engine answering"):
        Client.EngineClient(f"http://127.0.0.1:{free_port()}", timeout=2).health()
