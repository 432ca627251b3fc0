import time

import jwt
import pytest
import requests

from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.usersnap import (
    UsersnapAuthError,
    UsersnapClient,
    UsersnapConfigError,
    UsersnapForbiddenError,
)
from usersnap_pipeline.usersnap.auth import TokenMinter

WRONG_AUTH = {"status": False, "msg": "Authorization failed", "errortype": "WRONG_AUTH", "errordata": {}}


def test_minted_token_is_hs256_with_kid_and_short_expiry():
    token = TokenMinter("my-id", "s3cret").token()
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": "my-id"}
    claims = jwt.decode(token, "s3cret", algorithms=["HS256"])
    assert 0 < claims["exp"] - claims["iat"] <= 660
    assert abs(claims["exp"] - 600 - time.time()) < 5


def test_token_is_reused_then_reminted_before_expiry():
    now = [1_000_000.0]
    minter = TokenMinter("id", "secret", lifetime=600, refresh_margin=60, clock=lambda: now[0])
    first = minter.token()
    now[0] += 500
    assert minter.token() == first
    now[0] += 41  # 59 s before expiry: inside the refresh margin
    second = minter.token()
    assert second != first
    # dated a minute back, so an API clock behind ours does not see it as issued in the future
    assert jwt.decode(second, "secret", algorithms=["HS256"], options={"verify_exp": False})["iat"] == 1_000_481


def test_empty_credentials_are_refused_with_the_variable_to_set():
    with pytest.raises(UsersnapConfigError, match="USERSNAP_JWT_SECRET"):
        TokenMinter("id", "")
    with pytest.raises(UsersnapConfigError, match="USERSNAP_JWT_ID"):
        TokenMinter(" ", "secret")


def test_repr_never_shows_the_secret():
    assert "s3cret" not in repr(TokenMinter("id", "s3cret"))
    assert "s3cret" not in repr(UsersnapClient("https://example.com/v0.1", "id", "s3cret"))


def test_valid_token_is_accepted(client):
    assert len(client.list_projects()) == 2


def _token(secret=DEFAULT_JWT_SECRET, kid=DEFAULT_JWT_ID, alg="HS256", exp_in=600, with_exp=True):
    claims = {"iat": int(time.time())}
    if with_exp:
        claims["exp"] = int(time.time()) + exp_in
    return jwt.encode(claims, secret, algorithm=alg, headers={"kid": kid})


def _alg_none_token():
    import base64
    import json

    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': DEFAULT_JWT_ID})}.{b64({'exp': int(time.time()) + 600})}."


@pytest.mark.parametrize("headers", [
    pytest.param({"Authorization": "Bearer " + _token(secret="wrong-secret")}, id="wrong-secret"),
    pytest.param({"Authorization": "Bearer " + _token(kid="someone-else")}, id="wrong-kid"),
    pytest.param({"Authorization": "Bearer " + _token(alg="HS512")}, id="hs512"),
    pytest.param({"Authorization": "Bearer " + _token(exp_in=-30)}, id="expired"),
    pytest.param({"Authorization": "Bearer " + _token(with_exp=False)}, id="no-exp"),
    pytest.param({"Authorization": "Bearer " + _alg_none_token()}, id="alg-none"),
    pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="not-bearer"),
    pytest.param({}, id="missing-header"),
])
def test_every_auth_failure_is_401_wrong_auth(emulator, headers):
    answer = requests.get(emulator.base_url + "/projects", headers=headers, timeout=5)
    assert answer.status_code == 401
    assert answer.json() == WRONG_AUTH


def test_wrong_secret_raises_typed_error_without_retrying(emulator):
    with UsersnapClient(emulator.base_url, DEFAULT_JWT_ID, "not-the-secret") as usersnap:
        with pytest.raises(UsersnapAuthError, match="check the JWT ID and secret") as caught:
            usersnap.list_projects()
    assert caught.value.status == 401 and caught.value.errortype == "WRONG_AUTH"
    assert "GET /projects" in str(caught.value)
    assert emulator.faults.requests == 1


def test_plan_without_rest_api_raises_forbidden():
    with Emulator(generate(items=10), rest_api_enabled=False) as api:
        with UsersnapClient(api.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET) as usersnap:
            with pytest.raises(UsersnapForbiddenError, match="REST API is not enabled on this Usersnap plan"):
                usersnap.list_projects()
        assert api.faults.requests == 1


@pytest.mark.parametrize("url", ["http://platform.usersnap.com/v0.1", "ftp://x/v0.1", "not a url"])
def test_plain_http_is_refused_except_on_loopback(url):
    with pytest.raises(UsersnapConfigError, match="USERSNAP_API_URL"):
        UsersnapClient(url, "id", "secret")


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/v0.1", "http://localhost/v0.1", "http://[::1]:9/v0.1",
                                 "https://platform.usersnap.com/v0.1/"])
def test_https_and_loopback_urls_are_accepted(url):
    assert UsersnapClient(url, "id", "secret").api_url == url.rstrip("/")


def test_the_emulator_counts_every_request_that_reaches_it_even_refused_ones(emulator):
    """A test asserting that no call was made must see refused and faulted calls too."""
    import requests

    emulator.reset_request_counts()
    assert requests.get(f"{emulator.base_url}/projects", timeout=10).status_code == 401
    assert requests.get(f"{emulator.base_url}/no-such-route", timeout=10).status_code in (401, 404)
    assert emulator.requests_made() == 2 and emulator.requests_made("projects") == 0


@pytest.mark.parametrize("offset", [-30, -55, 900, -900])
def test_an_api_clock_ahead_or_behind_ours_is_followed(emulator, offset):
    """30 s behind (a token issued in its future) or 15 min either way (expired, or not valid yet):
    the client reads the API's clock from its Date header, mints on it, and the calls go through."""
    emulator.clock_offset = offset
    with UsersnapClient(emulator.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET) as usersnap:
        assert usersnap.list_projects()
        assert usersnap.list_projects()
        retries = usersnap.stats.snapshot()["retries"]
    assert retries == (1 if abs(offset) > 60 else 0)  # at most one refused call, then the API's clock


def test_a_token_refused_for_another_reason_says_the_clock_is_not_the_cause(emulator):
    emulator.clock_offset = 900
    with UsersnapClient(emulator.base_url, DEFAULT_JWT_ID, "not-the-secret") as usersnap:
        with pytest.raises(UsersnapAuthError, match=r"check the JWT ID and secret.*\+(899|900|901) s from this machine"):
            usersnap.list_projects()
