"""Posting alerts to a webhook that is hostile or slow, against real local receivers: a redirect is never
followed, a receiver that trickles its answer is cut at the deadline, and the URL (a secret) is in no error."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.tls import self_signed, server_context
from usersnap_pipeline.webhook import WebhookError, post_message

SECRET = "T0001/B0002/plantedHookKey99"


class _Receiver:
    """A local HTTP server; ``answer(handler)`` writes each POST's answer."""

    def __init__(self, answer, tls=None):
        self.posts: list[bytes] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                posts.append(self.rfile.read(int(self.headers["Content-Length"])))
                answer(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.url = f"{'http' if tls is None else 'https'}://127.0.0.1:{self.server.server_address[1]}/services/{SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(answer, tls=None):
        made.append(_Receiver(answer, tls))
        return made[-1]
    yield make
    for receiver in made:
        receiver.close()


def _ok(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "2")
    handler.end_headers()
    handler.wfile.write(b"ok")


def test_a_redirect_is_a_failed_delivery_and_nothing_reaches_the_other_host(receivers):
    elsewhere = receivers(_ok)

    def redirect(handler):
        handler.send_response(307)
        handler.send_header("Location", elsewhere.url)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    hook = receivers(redirect)
    with pytest.raises(WebhookError, match="HTTP 307, a redirect: not followed") as failed:
        post_message(hook.url, {"text": "Dark mode is rising"}, backoff=0.01)
    assert len(hook.posts) == 1 and elsewhere.posts == []
    assert SECRET not in str(failed.value)


def test_a_receiver_that_trickles_its_headers_is_cut_at_the_deadline(receivers):
    def trickle(handler):
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.5)  # 20 s for the whole answer; every read gets a byte
    hook = receivers(trickle)
    started = time.monotonic()
    with pytest.raises(WebhookError, match="no whole answer within 1 s, 2 attempts") as failed:
        post_message(hook.url, {"text": "Dark mode is rising"}, attempts=2, backoff=0.1, deadline=1.0)
    assert time.monotonic() - started < 4
    assert len(hook.posts) == 2 and SECRET not in str(failed.value)


def test_a_webhook_url_that_is_not_https_is_refused_before_anything_is_sent():
    for url in (f"http://hooks.example.com/services/{SECRET}", f"javascript:alert('{SECRET}')"):
        with pytest.raises(WebhookError, match="must be https") as refused:
            post_message(url, {"text": "x"})
        assert SECRET not in str(refused.value)


def test_a_receiver_that_answers_is_posted_to_once(receivers):
    hook = receivers(_ok)
    post_message(hook.url, {"text": "Dark mode is rising"})
    assert len(hook.posts) == 1


def test_an_https_receiver_gets_the_post(receivers, tmp_path, monkeypatch):
    """Every real webhook is HTTPS: the deadline's connection pool must speak TLS."""
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    hook = receivers(_ok, tls=server_context(cert, key))
    post_message(hook.url, {"text": "Dark mode is rising"})
    assert hook.url.startswith("https://") and len(hook.posts) == 1


def test_an_untrusted_https_receiver_is_a_failed_delivery_not_a_crash(receivers, tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    hook = receivers(_ok, tls=server_context(cert, key))
    with pytest.raises(WebhookError, match="SSLError") as failed:
        post_message(hook.url, {"text": "x"}, attempts=2, backoff=0.01)
    assert SECRET not in str(failed.value)
