"""Universal-auth lockout (events-and-limits §2), the client-secret rotation control, the
lockout report and the request log's arrival times.

The real rule (identity-ua-service.ts `login`): per identity and client id, a wrong or revoked
secret adds one failure and restarts the counter-reset window; the threshold locks the pair for
the lock duration; while locked every attempt, the right secret included, is refused without
extending the lock; a good login clears the record; an unknown client id is not counted.
The official SDKs log in here and read the refusals; plain HTTP checks the bodies and timing.
"""

import time

import pytest

from conftest import Api, assert_error

infisical_sdk = pytest.importorskip("infisical_sdk")
infisical_client = pytest.importorskip("infisical_client")
from infisical_client import (  # noqa: E402
    AuthenticationOptions, ClientSettings, InfisicalClient, ListSecretsOptions, UniversalAuthMethod,
)
from infisical_sdk import InfisicalSDKClient  # noqa: E402
from infisical_sdk.infisical_requests import APIError  # noqa: E402

LOGIN = "/api/v1/auth/universal-auth/login"
LOCKED = "This identity auth method is temporarily locked, please try again later"


def sdk_login(base_url, client_id, client_secret):
    """infisical_sdk's universal-auth login; returns None on success, else the APIError."""
    client = InfisicalSDKClient(host=base_url, cache_ttl=None)
    try:
        client.auth.universal_auth.login(client_id=client_id, client_secret=client_secret)
        return None
    except APIError as error:
        return error
    finally:
        client.close()


def refused(error, message):
    assert error is not None, "the login was expected to fail"
    assert error.status_code == 401 and error.response["message"] == message, error.response
    assert error.response["error"] == "UnauthorizedError"


def lockout_of(api, client_id):
    return next(e for e in api.control("GET", "lockouts")["lockouts"] if e["clientId"] == client_id)


@pytest.fixture
def fresh(api):
    api.control("POST", "reset")
    return api


class TestLockout:
    def test_three_failures_lock_even_the_right_secret(self, fresh, server):
        identity = fresh.add_identity()
        cid, good = identity["clientId"], identity["clientSecret"]
        refused(sdk_login(server.base_url, cid, "wrong-1"), "Invalid credentials")
        refused(sdk_login(server.base_url, cid, "wrong-2"), "Invalid credentials")
        assert lockout_of(fresh, cid) == {"clientId": cid, "identityId": identity["identityId"], "failures": 2,
                                          "locked": False, "lockedUntil": None, "timesLocked": 0}
        assert sdk_login(server.base_url, cid, good) is None            # a good login clears the record
        assert lockout_of(fresh, cid)["failures"] == 0
        before = time.time()
        for attempt in range(3):
            refused(sdk_login(server.base_url, cid, f"wrong-{attempt}"), "Invalid credentials")
        entry = lockout_of(fresh, cid)
        assert entry["locked"] and entry["failures"] == 3 and entry["timesLocked"] == 1
        assert before + 300 <= entry["lockedUntil"] <= time.time() + 300      # the default 300 s
        refused(sdk_login(server.base_url, cid, good), LOCKED)          # the right secret is refused too
        body = assert_error(fresh.post(LOGIN, {"clientId": cid, "clientSecret": good}, token=""), 401, LOCKED,
                            "UnauthorizedError")
        assert set(body) == {"reqId", "statusCode", "message", "error"}
        assert lockout_of(fresh, cid)["lockedUntil"] == entry["lockedUntil"]   # not extended

    def test_the_rust_sdk_reports_the_lock(self, fresh, server):
        identity = fresh.add_identity()
        for attempt in range(3):
            fresh.post(LOGIN, {"clientId": identity["clientId"], "clientSecret": f"bad-{attempt}"}, token="")
        client = InfisicalClient(ClientSettings(site_url=server.base_url, cache_ttl=0, auth=AuthenticationOptions(
            universal_auth=UniversalAuthMethod(client_id=identity["clientId"],
                                               client_secret=identity["clientSecret"]))))
        with pytest.raises(Exception) as raised:
            client.listSecrets(ListSecretsOptions(environment="dev", project_id="any"))
        assert str(raised.value) == f"Failed to authenticate: {LOCKED}"

    def test_the_lock_ends_after_its_duration_and_is_not_extended(self, fresh, server):
        identity = fresh.add_identity(lockoutDurationSeconds=1)
        cid = identity["clientId"]
        for attempt in range(3):
            fresh.post(LOGIN, {"clientId": cid, "clientSecret": f"bad-{attempt}"}, token="")
        locked_at = time.time()
        time.sleep(0.5)
        refused(sdk_login(server.base_url, cid, "still-wrong"), LOCKED)       # refused, not counted
        refused(sdk_login(server.base_url, cid, identity["clientSecret"]), LOCKED)
        time.sleep(max(0.0, locked_at + 1.15 - time.time()))                  # 1 s after the lock, not after these
        entry = lockout_of(fresh, cid)
        assert not entry["locked"] and entry["failures"] == 0 and entry["timesLocked"] == 1
        assert sdk_login(server.base_url, cid, identity["clientSecret"]) is None

    def test_each_failure_restarts_the_counter_reset_window(self, fresh):
        identity = fresh.add_identity(lockoutCounterResetSeconds=0.6)
        body = {"clientId": identity["clientId"], "clientSecret": "bad"}
        assert_error(fresh.post(LOGIN, body, token=""), 401, "Invalid credentials")
        assert_error(fresh.post(LOGIN, body, token=""), 401, "Invalid credentials")
        time.sleep(0.8)                                                       # the window passed: count restarts
        assert lockout_of(fresh, identity["clientId"])["failures"] == 0
        for _ in range(2):                                                    # 0.4 s apart: each restarts the window
            assert_error(fresh.post(LOGIN, body, token=""), 401, "Invalid credentials")
            time.sleep(0.4)
        assert lockout_of(fresh, identity["clientId"])["failures"] == 2       # 0.8 s after the first, still alive
        assert_error(fresh.post(LOGIN, body, token=""), 401, "Invalid credentials")
        assert lockout_of(fresh, identity["clientId"])["locked"]
        assert_error(fresh.post(LOGIN, {**body, "clientSecret": identity["clientSecret"]}, token=""), 401, LOCKED)

    def test_thresholds_per_identity_and_client_and_disabled_lockout(self, fresh, server):
        strict = fresh.add_identity(lockoutThreshold=1)
        relaxed = fresh.add_identity(lockoutEnabled=False)
        other = fresh.add_identity()
        refused(sdk_login(server.base_url, strict["clientId"], "bad"), "Invalid credentials")
        refused(sdk_login(server.base_url, strict["clientId"], strict["clientSecret"]), LOCKED)
        for attempt in range(5):
            refused(sdk_login(server.base_url, relaxed["clientId"], f"bad-{attempt}"), "Invalid credentials")
        assert sdk_login(server.base_url, relaxed["clientId"], relaxed["clientSecret"]) is None
        assert lockout_of(fresh, relaxed["clientId"])["timesLocked"] == 0
        assert sdk_login(server.base_url, other["clientId"], other["clientSecret"]) is None   # others unaffected
        # An unknown client id is refused the same way and counted nowhere.
        refused(sdk_login(server.base_url, "no-such-client", "x"), "Invalid credentials")
        assert {e["clientId"] for e in fresh.control("GET", "lockouts")["lockouts"]} == {
            strict["clientId"], relaxed["clientId"], other["clientId"]}
        assert fresh.request("POST", "/__test__/identities",
                             body={"clientId": "c", "clientSecret": "s", "lockoutThreshold": 0}).status == 400

    def test_a_rotated_secret_is_revoked_and_counts(self, fresh, server):
        identity = fresh.add_identity()
        old = identity["clientSecret"]
        rotated = fresh.control("POST", "client-secrets", {"clientId": identity["clientId"],
                                                           "clientSecret": "secret-new"})
        assert rotated == {"ok": True, "identityId": identity["identityId"], "clientId": identity["clientId"]}
        refused(sdk_login(server.base_url, identity["clientId"], old), "Invalid credentials")
        refused(sdk_login(server.base_url, identity["clientId"], old), "Invalid credentials")
        assert lockout_of(fresh, identity["clientId"])["failures"] == 2
        assert sdk_login(server.base_url, identity["clientId"], "secret-new") is None   # and clears the count
        assert lockout_of(fresh, identity["clientId"])["failures"] == 0
        assert fresh.request("POST", "/__test__/client-secrets",
                             body={"clientId": "nobody", "clientSecret": "x"}).status == 404

    def test_reset_clears_lockouts(self, fresh):
        identity = fresh.add_identity(lockoutThreshold=1)
        fresh.post(LOGIN, {"clientId": identity["clientId"], "clientSecret": "bad"}, token="")
        assert lockout_of(fresh, identity["clientId"])["locked"]
        fresh.control("POST", "reset")
        assert fresh.control("GET", "lockouts") == {"lockouts": []}

    def test_the_seed_keeps_lockout_settings(self, fresh):
        fresh.add_identity(clientId="tight", lockoutThreshold=5, lockoutCounterResetSeconds=2)
        (spec,) = fresh.control("GET", "seed")["identities"]
        assert (spec["lockoutThreshold"], spec["lockoutCounterResetSeconds"]) == (5, 2)
        assert "lockoutDurationSeconds" not in spec                     # defaults are left out


class TestRequestLogTimes:
    def test_each_entry_carries_its_arrival_time(self, fresh, server):
        identity = fresh.add_identity()
        fresh.control("DELETE", "requests")
        start = time.time()
        sdk_login(server.base_url, identity["clientId"], "bad")
        time.sleep(0.3)
        sdk_login(server.base_url, identity["clientId"], identity["clientSecret"])
        first, second = fresh.control("GET", "requests/log")["requests"]
        assert first["route"] == second["route"] == LOGIN
        assert start <= first["time"] and second["time"] - first["time"] >= 0.3
        assert second["time"] <= time.time()
        assert Api(server.base_url).control("GET", "requests/log")["requests"][0]["time"] == first["time"]
