"""Which links from outside may be shown or followed: a link to the feedback in Usersnap, a screenshot.

Items carry URLs the API sent; a report, a CSV or a chat message that renders one makes it clickable. Only
``https`` URLs with a host are kept, and plain ``http`` on loopback (the emulator), the rule the API URL
follows too: ``javascript:``, ``data:``, ``file:`` and the rest are never rendered or exported.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# The characters a URL may hold (RFC 3986: unreserved, reserved and %): anything else (space, \ < > " ` { } |
# ^, non-ASCII) is a link someone built to break out of an attribute, a CSV cell or a chat message's markup.
_URL_CHARACTERS = r"A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%"
_ONLY_URL_CHARACTERS = re.compile(f"[{_URL_CHARACTERS}]+")
# An https URL whose host is letters, digits, dots and dashes, with URL characters after it: what links
# from the API look like, and what the rule below keeps, decided without splitting the URL (an import
# checks two links an item; splitting them was a tenth of the normalizer's time).
_PLAIN_HTTPS = re.compile(f"https://[A-Za-z0-9.\\-]+(?::[0-9]*)?(?:[/?#][{_URL_CHARACTERS}]*)?")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def safe_link(url: object) -> str | None:
    """``url`` when it is an https URL with a host (http on loopback); None for anything else."""
    if type(url) is str and _PLAIN_HTTPS.fullmatch(url):
        return url
    return _split_and_checked(url)


def _split_and_checked(url: object) -> str | None:
    """The rule itself, on the URL's parts as urllib splits them."""
    if not isinstance(url, str) or not _ONLY_URL_CHARACTERS.fullmatch(url):
        return None  # whitespace or control characters (browsers drop them, a scheme can hide behind them), markup
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. a malformed IPv6 host or port
        return None
    if not host:
        return None
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and is_loopback(host)):
        return url
    return None
