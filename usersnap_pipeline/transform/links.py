"""Which links from outside may be shown or followed: a link to the feedback in Usersnap, a screenshot.

Items carry URLs the API sent; a report, a CSV or a chat message that renders one makes it clickable. Only
``https`` URLs with a host are kept, and plain ``http`` on loopback (the emulator), the rule the API URL
follows too: ``javascript:``, ``data:``, ``file:`` and the rest are never rendered or exported.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def safe_link(url: object) -> str | None:
    """``url`` when it is an https URL with a host (http on loopback); None for anything else."""
    if not isinstance(url, str) or not url or url != url.strip() or any(ord(c) < 0x21 or c == "\x7f" for c in url):
        return None  # whitespace or control characters: browsers drop them, and a scheme can hide behind them
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
