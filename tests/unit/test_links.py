"""Which URLs from an item may become a link: https (http on loopback), nothing else."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usersnap_pipeline.transform.links import _split_and_checked, safe_link


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
    # characters no URL holds, each able to break out of the markup a link is put in (an HTML attribute, a
    # Slack <url|text>, a CSV cell): kept by the old rule, which let any printable ASCII through
    'https://app.usersnap.com/l/1"onmouseover="alert(1)',
    "https://app.usersnap.com/l/1|click here>",
    "https://app.usersnap.com/l/1><script>",
    "https://app.usersnap.com/l/{1}",
    "https://app.usersnap.com/l/1\\..\\x",
    "https://app.usersnap.com/l/1`x`^",
    "https://app.usersnap.com/l/ünïcode",
    "",
    None,
    42,
])
def test_every_other_link_is_refused(url):
    assert safe_link(url) is None


_SCHEMES = st.sampled_from(["https://", "http://", "HTTPS://", "javascript:", "//", ""])
_URL_PIECES = st.sampled_from(["@", ":", ":443", "[", "]", "/", "?", "#", "\\", " ", "\t", "\n", "\x7f", "\x00", "é",
                               ".", "-", "a", "Z", "0", "host", "127.0.0.1", "localhost", "%2F", "::1"])


@settings(max_examples=3000, deadline=None)
@given(st.tuples(_SCHEMES, st.lists(_URL_PIECES, max_size=8).map("".join)).map("".join)
       | st.tuples(st.just("https://"),
                   st.text(st.sampled_from("aZ0.-:/?#@[]\\ \t\x7f\x00é%"), max_size=12)).map("".join)
       | st.text(max_size=30))
def test_the_fast_path_for_plain_https_links_decides_as_the_rule_does(url):
    # Links that look like the API's are kept without splitting them; any URL must get the same answer
    # as the rule applied to urllib's split.
    assert safe_link(url) == _split_and_checked(url)
