"""OIDC and JWT machine-identity logins: `POST /api/v1/auth/oidc-auth/login` and
`POST /api/v1/auth/jwt-auth/login`, body `{identityId, jwt}`.

The test seeds the one JWT the identity provider would sign now (`/__test__/oidc-auth`,
`/__test__/jwt-auth`; calling again rotates it). Refusals carry the real server's messages
(identity-oidc-auth-service.ts and identity-jwt-auth-service.ts `login`). infisical_sdk has an
OIDC login; the JWT login has no SDK call and is checked over plain HTTP.
"""

import base64
import json
import time

import pytest

from conftest import assert_error

infisical_sdk = pytest.importorskip("infisical_sdk")
from infisical_sdk import InfisicalSDKClient  # noqa: E402
from infisical_sdk.infisical_requests import APIError  # noqa: E402

OIDC = "/api/v1/auth/oidc-auth/login"
JWT = "/api/v1/auth/jwt-auth/login"


def b64url(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def fake_jwt(claims, kid="key-1", signature="c2ln"):
    """A JWT-shaped token (the signature is never checked here: the seeded token is the truth)."""
    header = {"alg": "RS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    return f"{b64url(header)}.{b64url(claims)}.{signature}"


@pytest.fixture
def setup(world):
    api = world["api"]
    identity = api.add_identity(accessTokenTTL=120, accessTokenMaxTTL=600)
    api.control("POST", "projects", {"slug": "oidc-proj", "members": [identity["identityId"]]})
    return api, identity


def oidc_login(base_url, identity_id, jwt):
    client = InfisicalSDKClient(host=base_url, cache_ttl=None)
    try:
        return client, client.auth.oidc_auth.login(identity_id=identity_id, jwt=jwt)
    except APIError:
        client.close()
        raise


class TestOidcAuth:
    def test_the_sdk_logs_in_with_the_seeded_token_and_uses_it(self, setup, server):
        api, identity = setup
        token = fake_jwt({"sub": "ci-job", "aud": "infisical", "exp": int(time.time()) + 600})
        assert api.control("POST", "oidc-auth", {"identityId": identity["identityId"], "token": token}) == {"ok": True}
        client, result = oidc_login(server.base_url, identity["identityId"], f"  {token}\n")   # trimmed
        assert (result.expiresIn, result.accessTokenMaxTTL, result.tokenType) == (120, 600, "Bearer")
        project = api.get("/api/v1/projects", token=result.accessToken).json["projects"][0]
        created = client.secrets.create_secret_by_name(secret_name="VIA_OIDC", secret_value="v", secret_path="/",
                                                       environment_slug="dev", project_id=project["id"])
        assert created.secretKey == "VIA_OIDC"
        client.close()
        renewed = api.post("/api/v1/auth/token/renew", {"accessToken": result.accessToken})
        assert renewed.status == 200 and renewed.json["expiresIn"] == 120

    def test_refusals(self, setup, server):
        api, identity = setup
        iid = identity["identityId"]
        with pytest.raises(APIError) as raised:
            oidc_login(server.base_url, iid, fake_jwt({"sub": "x"}))
        assert raised.value.status_code == 404
        assert raised.value.response["message"] == \
            "OIDC auth method not found for identity, did you configure OIDC auth?"
        seeded = fake_jwt({"sub": "ci"})
        api.control("POST", "oidc-auth", {"identityId": iid, "token": seeded})
        for jwt, message in [
                ("not-a-jwt", "Invalid JWT"),
                ("", "Invalid JWT"),
                (fake_jwt({"sub": "other"}), "Access denied: invalid signature"),
                (fake_jwt({"sub": "other"}, kid=None),
                 "Access denied: Unable to verify JWT signature with any available signing key. invalid signature")]:
            with pytest.raises(APIError) as raised:
                oidc_login(server.base_url, iid, jwt)
            assert raised.value.status_code == 401, jwt
            assert raised.value.response["message"] == message and raised.value.response["error"] == "UnauthorizedError"
        expired = fake_jwt({"sub": "ci", "exp": int(time.time()) - 5})
        api.control("POST", "oidc-auth", {"identityId": iid, "token": expired})
        assert_error(api.post(OIDC, {"identityId": iid, "jwt": expired}, token=""), 401, "Access denied: jwt expired")
        body = assert_error(api.post(OIDC, {"identityId": iid}, token=""), 422, error="ValidationFailure")
        assert [i["path"] for i in body["message"]] == [["jwt"]]
        body = assert_error(api.post(OIDC, {}, token=""), 422)
        assert [i["path"] for i in body["message"]] == [["identityId"], ["jwt"]]
        assert_error(api.post(OIDC, {"identityId": "nobody", "jwt": seeded}, token=""), 404,
                     "OIDC auth method not found for identity, did you configure OIDC auth?")

    def test_rotation_replaces_the_accepted_token(self, setup, server):
        api, identity = setup
        iid = identity["identityId"]
        first, second = fake_jwt({"n": 1}), fake_jwt({"n": 2})
        api.control("POST", "oidc-auth", {"identityId": iid, "token": first})
        oidc_login(server.base_url, iid, first)[0].close()
        api.control("POST", "oidc-auth", {"identityId": iid, "token": second})
        with pytest.raises(APIError) as raised:
            oidc_login(server.base_url, iid, first)
        assert raised.value.response["message"] == "Access denied: invalid signature"
        oidc_login(server.base_url, iid, second)[0].close()
        # organizationSlug / subOrganizationName are accepted and not used
        ok = api.post(OIDC, {"identityId": iid, "jwt": second, "organizationSlug": "x"}, token="")
        assert ok.status == 200 and set(ok.json) == {"accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"}


class TestJwtAuth:
    def test_login_and_refusals(self, setup):
        api, identity = setup
        iid = identity["identityId"]
        token = fake_jwt({"sub": "svc", "exp": int(time.time()) + 60})
        assert_error(api.post(JWT, {"identityId": iid, "jwt": token}, token=""), 404,
                     "JWT auth method not found for identity, did you configure JWT auth?", "NotFound")
        api.control("POST", "jwt-auth", {"identityId": iid, "token": token})
        login = api.post(JWT, {"identityId": f" {iid} ", "jwt": f"\t{token} "}, token="")
        assert login.status == 200
        assert [login.json[k] for k in ("expiresIn", "accessTokenMaxTTL", "tokenType")] == [120, 600, "Bearer"]
        assert api.get("/api/v1/projects", token=login.json["accessToken"]).status == 200
        assert_error(api.post(JWT, {"identityId": iid, "jwt": "garbage"}, token=""), 401, "Invalid JWT",
                     "UnauthorizedError")
        assert_error(api.post(JWT, {"identityId": iid, "jwt": fake_jwt({"sub": "other"})}, token=""), 401,
                     "Access denied: JWT verification failed with all keys. Errors - invalid signature")
        api.control("POST", "jwt-auth", {"identityId": iid, "token": token, "configurationType": "jwks"})
        assert_error(api.post(JWT, {"identityId": iid, "jwt": fake_jwt({"sub": "other"})}, token=""), 401,
                     "Access denied: invalid signature")
        expired = fake_jwt({"sub": "svc", "exp": int(time.time()) - 1})
        api.control("POST", "jwt-auth", {"identityId": iid, "token": expired})      # rotated: the old one fails
        assert_error(api.post(JWT, {"identityId": iid, "jwt": token}, token=""), 401,
                     "Access denied: JWT verification failed with all keys. Errors - invalid signature")
        assert_error(api.post(JWT, {"identityId": iid, "jwt": expired}, token=""), 401,
                     "Access denied: JWT verification failed with all keys. Errors - jwt expired")
        assert api.request("POST", "/__test__/jwt-auth", body={"identityId": iid, "token": token,
                                                               "configurationType": "x"}).status == 400
        assert api.request("POST", "/__test__/oidc-auth", body={"identityId": iid}).status == 400
        assert api.request("POST", "/__test__/oidc-auth", body={"identityId": "nobody", "token": "t"}).status == 404
