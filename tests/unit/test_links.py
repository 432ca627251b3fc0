"""Which URLs from an item may become a link: https (http on loopback), nothing else."""

import pytest

from usersnap_pipeline.transform.links import safe_link


@pytest.mark.parametrize("url", [
    "https://app.usersnap.com/l/feedback/f5150fc1-a7c9-4e33-8bd5-7a9cf3423e32",
    "HTTPS://app.usersnap.com/l/feedback/1",
    "http://127.0.0.1:8765/l/feedback/1",
    "http://localhost/l/feedback/1",
    "http://[::1]:8080/x",
])
def test_https_and_loopback_http_links_are_kept(url):
    assert safe_link(url) == url


@pytest.mark.parametrize("url", [
    "javascript:document.title='PWNED3'",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "http://app.usersnap.com/l/feedback/1",  # plain http off loopback
    "https://",
    "https:///path-without-host",
    "//app.usersnap.com/l/feedback/1",
    "/l/feedback/1",
    "https://app.usersnap.com/l/feedback/1\n<script>",
    "https://[::1",
    "",
    None,
    42,
])
def test_every_other_link_is_refused(url):
    assert safe_link(url) is None
