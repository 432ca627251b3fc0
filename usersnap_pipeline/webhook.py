"""Posting a message to an incoming webhook (Slack and compatible). The URL is a secret (a Slack hook's
path is its key): it never appears in an error, a log line or a retry message.

Each attempt has a total deadline (connecting, sending, the whole answer): a receiver that trickles its
headers cannot hold the alerts step. Redirects are not followed: a 3xx would re-post the alert to wherever
the receiver points; it fails the delivery, with its status.
"""

from __future__ import annotations

import time

import requests
import urllib3

from .net import DeadlineSession
from .transform.links import safe_link

ATTEMPTS = 3
DEADLINE = 10.0  # seconds per attempt, the whole answer included
BACKOFF = 1.0  # seconds before the second attempt, doubled after each


class WebhookError(Exception):
    """The message was not accepted; the text says why, without the URL."""


def post_message(url: str, message: dict, *, attempts: int = ATTEMPTS, backoff: float = BACKOFF,
                 deadline: float = DEADLINE) -> None:
    """POST ``message`` as JSON; retried on a connection error, a timeout, 429 and 5xx. The longest it can
    take: ``attempts`` × ``deadline`` plus the pauses between them (36 s with the defaults)."""
    if safe_link(url) is None:
        raise WebhookError("the webhook URL must be https (http only on loopback): not posted")
    with DeadlineSession(pool_size=1) as session:
        for attempt in range(1, attempts + 1):
            timing = None
            try:
                with session.deadline(deadline) as timing:
                    response = session.post(url, json=message, timeout=(5.0, deadline), allow_redirects=False)
                    response.content  # noqa: B018 - the whole answer, under the deadline
                if timing.expired:
                    raise requests.Timeout()
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                # requests puts the URL in its messages: only the kind of failure is kept. (A cut connection
                # can surface as urllib3's or the socket's own error, not wrapped by requests.)
                reason = (f"no whole answer within {deadline:g} s" if timing is not None and timing.expired
                          else f"{type(exc).__name__} (no answer from the webhook)")
            else:
                if response.status_code < 300:
                    return
                reason = f"the webhook answered HTTP {response.status_code}"
                if response.status_code < 400:
                    raise WebhookError(f"{reason}, a redirect: not followed, so the alert was posted nowhere else")
                if response.status_code != 429 and response.status_code < 500:
                    raise WebhookError(f"{reason}: not retried (a wrong or revoked URL, or a message it refuses)")
            if attempt == attempts:
                raise WebhookError(f"{reason}, {attempts} attempts")
            time.sleep(backoff * 2 ** (attempt - 1))
