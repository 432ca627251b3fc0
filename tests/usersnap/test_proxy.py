"""The client goes through the proxy the environment names (HTTP(S)_PROXY, NO_PROXY), as requests
would: it reads those settings once, when it is created."""

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import make_client


class _ForwardingProxy(BaseHTTPRequestHandler):
    """A plain HTTP forward proxy: requests arrive with the absolute URL of their target."""

    seen: list[str] = []

    def _forward(self) -> None:
        self.seen.append(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
        request = urllib.request.Request(self.path, data=body, headers=headers, method=self.command)
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(request, timeout=10) as answer:
            content = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

    do_GET = do_POST = _forward

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def proxy():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForwardingProxy)
    _ForwardingProxy.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _ForwardingProxy.seen
    server.shutdown()
    server.server_close()


def test_requests_go_through_the_proxy_from_the_environment(emulator, proxy, monkeypatch):
    proxy_url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with make_client(emulator) as usersnap:
        projects = usersnap.list_projects()
    assert projects and seen and all(path.startswith(emulator.base_url) for path in seen)


def test_no_proxy_for_the_hosts_no_proxy_names(emulator, proxy, monkeypatch):
    proxy_url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with make_client(emulator) as usersnap:
        assert usersnap.list_projects()
    assert seen == []
