"""Posting a message to an incoming webhook (Slack and compatible). The URL is a secret (a Slack hook's
path is its key): it never appears in an error, a log line or a retry message."""

from __future__ import annotations

import time

import requests

ATTEMPTS = 3
TIMEOUT = 10.0  # seconds per attempt: a hanging receiver must not hold the themes run for long
BACKOFF = 1.0  # seconds before the second attempt, doubled after each


class WebhookError(Exception):
    """The message was not accepted; the text says why, without the URL."""


def post_message(url: str, message: dict, *, attempts: int = ATTEMPTS, backoff: float = BACKOFF) -> None:
    """POST ``message`` as JSON; retried on a connection error, a timeout, 429 and 5xx."""
    for attempt in range(1, attempts + 1):
        try:
            response = requests.post(url, json=message, timeout=TIMEOUT)
        except requests.RequestException as exc:
            # requests puts the URL in its messages: only the kind of failure is kept.
            reason = f"{type(exc).__name__} (no answer from the webhook)"
        else:
            if response.status_code < 300:
                return
            reason = f"the webhook answered HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                raise WebhookError(f"{reason}: not retried (a wrong or revoked URL, or a message it refuses)")
        if attempt == attempts:
            raise WebhookError(f"{reason}, {attempts} attempts")
        time.sleep(backoff * 2 ** (attempt - 1))
