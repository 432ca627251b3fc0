import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _FakeApi(BaseHTTPRequestHandler):
    """Not Usersnap: answers every request with the same canned body."""
    body = b"{}"
    status = 200
    headers_sent: dict[str, str] = {}
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(self.status)
        for name, value in self.headers_sent.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = _answer


@pytest.fixture
def fake_api():
    servers = []

    def start(body: bytes, *, status: int = 200, headers: dict[str, str] | None = None) -> str:
        handler = type("Handler", (_FakeApi,), {"body": body, "status": status, "headers_sent": headers or {}})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v0.1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
