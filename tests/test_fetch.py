"""fetch() against a small HTTP server on 127.0.0.1 started by the test."""

from __future__ import annotations

import hashlib
import threading
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hitlab.datasets.fetch import RemoteDataset, data_home, fetch
from hitlab.errors import FetchError

PAYLOAD = b"track_id,tempo\n" + b"".join(f"t{i},{100 + i}\n".encode() for i in range(5000))


class _Handler(BaseHTTPRequestHandler):
    hits: typing.ClassVar[dict[str, int]] = {}

    def do_GET(self):
        _Handler.hits[self.path] = _Handler.hits.get(self.path, 0) + 1
        if self.path == "/good.csv":
            self._send(PAYLOAD)
        elif self.path == "/truncated.csv":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _dataset(url: str, sha: str | None = None) -> RemoteDataset:
    return RemoteDataset(
        name="demo",
        url=url,
        sha256=sha or hashlib.sha256(PAYLOAD).hexdigest(),
        filename="demo.csv",
        description="test",
        licence="none",
    )


def test_download_checks_sha_and_caches(server, tmp_path):
    progress: list[int] = []
    path = fetch(
        _dataset(f"{server}/good.csv"), home=tmp_path, progress=lambda done, total: progress.append(done)
    )
    assert path == tmp_path / "demo" / "demo.csv"
    assert path.read_bytes() == PAYLOAD
    assert progress[-1] == len(PAYLOAD)
    hits = _Handler.hits.get("/good.csv", 0)
    assert fetch(_dataset(f"{server}/good.csv"), home=tmp_path) == path
    assert _Handler.hits["/good.csv"] == hits  # second call read the cache


def test_checksum_mismatch_leaves_no_file(server, tmp_path):
    with pytest.raises(FetchError, match=r"sha256 mismatch, expected 0{64}, got [0-9a-f]{64}"):
        fetch(_dataset(f"{server}/good.csv", "0" * 64), home=tmp_path)
    assert not (tmp_path / "demo").exists()  # no file, and no empty cache folder


def test_interrupted_download_leaves_no_file(server, tmp_path):
    with pytest.raises(FetchError, match=r"after 2 attempt\(s\).*nothing was saved"):
        fetch(_dataset(f"{server}/truncated.csv"), home=tmp_path, retries=2)
    assert not (tmp_path / "demo").exists()  # no file, and no empty cache folder


def test_http_error_is_not_retried(server, tmp_path):
    with pytest.raises(FetchError, match=r"answered HTTP 404"):
        fetch(_dataset(f"{server}/missing.csv"), home=tmp_path, retries=3)
    assert _Handler.hits["/missing.csv"] == 1


def test_unknown_dataset():
    with pytest.raises(FetchError, match=r"unknown dataset 'nope'; known: .*tidytuesday-2020"):
        fetch("nope")


def test_data_home_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HITLAB_DATA", str(tmp_path))
    assert data_home() == tmp_path
