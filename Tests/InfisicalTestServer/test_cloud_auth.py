"""The test server's cloud logins (§3.3-§3.7) check what a real server checks:
the SigV4 signature recomputed with the seeded secret key, RS256 JWTs against
the test's key pair (made here with the `openssl` command), audience and
expiry, and the Azure / Kubernetes tokens against what was seeded. Also the
fake cloud endpoints (fake_cloud.py) the mount's cloud logins call."""

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest

from conftest import HERE, Api, start_server, stop_server

STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two RSA key pairs made by openssl: the right one and a stranger's."""
    folder = tmp_path_factory.mktemp("keys")
    made = {}
    for name in ("good", "other"):
        private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", str(private)], check=True, capture_output=True, timeout=60)
        subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)],
                       check=True, capture_output=True, timeout=60)
        made[name] = (str(private), public.read_text())
    return made


def sign_jwt(private_key_path, claims, alg="RS256"):
    signing_input = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", private_key_path],
                               input=signing_input.encode(), capture_output=True, check=True, timeout=10).stdout
    return signing_input + "." + b64url(signature)


def sigv4_headers(access_key, secret_key, region, session_token=None, amz_date=None, body=STS_BODY,
                  sign_token_without_sending=False):
    amz_date = amz_date or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = {"host": f"sts.{region}.amazonaws.com",
               "content-type": "application/x-www-form-urlencoded; charset=utf-8", "x-amz-date": amz_date}
    if session_token:
        headers["x-amz-security-token"] = session_token
    signed = dict(headers)
    if sign_token_without_sending:
        signed["x-amz-security-token"] = "never-sent"
    names = sorted(signed)
    canonical = "\n".join(["POST", "/", "", "".join(f"{n}:{signed[n]}\n" for n in names), ";".join(names),
                           hashlib.sha256(body.encode()).hexdigest()])
    day = amz_date[:8]
    scope = f"{day}/{region}/sts/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, "sts", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return headers


def aws_login(api, identity_id, headers, body=STS_BODY):
    return api.post("/api/v1/auth/aws-auth/login", {
        "identityId": identity_id, "iamHttpRequestMethod": "POST",
        "iamRequestBody": base64.b64encode(body.encode()).decode(),
        "iamRequestHeaders": base64.b64encode(json.dumps(headers).encode()).decode()})


@pytest.fixture
def clean(api):
    api.control("POST", "reset")
    identity = api.add_identity()
    project = api.control("POST", "projects", {"slug": "cloud", "members": [identity["identityId"]]})
    return identity["identityId"], project


def assert_token_works(api, response):
    assert response.status == 200, response
    assert set(response.json) == {"accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"}
    listed = api.get("/api/v1/projects", token=response.json["accessToken"])
    assert listed.status == 200 and [p["slug"] for p in listed.json["projects"]] == ["cloud"]


# -- AWS IAM ------------------------------------------------------------------

def seed_aws(api, identity_id, **extra):
    api.control("POST", "aws-auth", {"identityId": identity_id, "accessKeyId": "AKIATEST", "secretAccessKey":
                                     "secret/key+1", "account": "111122223333",
                                     "arn": "arn:aws:iam::111122223333:user/mount", **extra})


def test_aws_good_signature_logs_in(api, clean):
    identity_id, _ = clean
    seed_aws(api, identity_id)
    assert_token_works(api, aws_login(api, identity_id, sigv4_headers("AKIATEST", "secret/key+1", "eu-west-1")))


def test_aws_session_token_must_be_sent_and_right(api, clean):
    identity_id, _ = clean
    seed_aws(api, identity_id, sessionToken="session-123")
    good = sigv4_headers("AKIATEST", "secret/key+1", "us-east-1", session_token="session-123")
    assert_token_works(api, aws_login(api, identity_id, good))
    wrong = sigv4_headers("AKIATEST", "secret/key+1", "us-east-1", session_token="session-999")
    assert aws_login(api, identity_id, wrong).status == 401


def test_aws_tampered_or_wrong_key_is_refused(api, clean):
    identity_id, _ = clean
    seed_aws(api, identity_id)
    wrong_secret = aws_login(api, identity_id, sigv4_headers("AKIATEST", "not-the-secret", "us-east-1"))
    assert wrong_secret.status == 401 and "SignatureDoesNotMatch" in wrong_secret.json["message"]
    headers = sigv4_headers("AKIATEST", "secret/key+1", "us-east-1")
    tampered = dict(headers, authorization=headers["authorization"][:-4] + "0000")
    assert aws_login(api, identity_id, tampered).status == 401
    # A header changed after signing, another body, another region's host.
    assert aws_login(api, identity_id, dict(headers, **{"content-type": "text/plain"})).status == 401
    assert aws_login(api, identity_id, headers, body="Action=GetCallerIdentity&Version=2011-06-16").status == 401
    assert aws_login(api, identity_id, dict(headers, host="sts.us-west-2.amazonaws.com")).status == 401
    unknown = aws_login(api, identity_id, sigv4_headers("AKIAOTHER", "secret/key+1", "us-east-1"))
    assert unknown.status == 401 and "InvalidClientTokenId" in unknown.json["message"]


def test_aws_signed_but_unsent_token_and_old_dates_are_refused(api, clean):
    identity_id, _ = clean
    seed_aws(api, identity_id)
    rust_style = sigv4_headers("AKIATEST", "secret/key+1", "us-east-1", sign_token_without_sending=True)
    assert aws_login(api, identity_id, rust_style).status == 401
    old = sigv4_headers("AKIATEST", "secret/key+1", "us-east-1", amz_date="20200101T000000Z")
    assert aws_login(api, identity_id, old).status == 401


def test_aws_region_checks_and_allowed_principals(api, clean):
    identity_id, _ = clean
    seed_aws(api, identity_id, allowedPrincipalArns=["arn:aws:iam::111122223333:user/other*"])
    assert aws_login(api, identity_id, sigv4_headers("AKIATEST", "secret/key+1", "us-east-1")).status == 403
    bad_region = aws_login(api, identity_id, sigv4_headers("AKIATEST", "secret/key+1", "US_EAST"))
    assert bad_region.status == 400 and bad_region.json["message"] == "Invalid AWS region"


def test_aws_identity_without_the_method_is_404(api, clean):
    identity_id, _ = clean
    response = aws_login(api, identity_id, sigv4_headers("AKIATEST", "secret/key+1", "us-east-1"))
    assert response.status == 404 and "did you configure AWS auth" in response.json["message"]


# -- GCP ------------------------------------------------------------------------

def test_gcp_iam_jwt_is_verified(api, clean, keys):
    identity_id, _ = clean
    api.control("POST", "gcp-auth", {"identityId": identity_id, "type": "iam", "publicKeyPem": keys["good"][1]})
    now = int(time.time())
    claims = {"sub": "sa@p.iam.gserviceaccount.com", "aud": identity_id, "iat": now, "exp": now + 600}
    login = lambda jwt: api.post("/api/v1/auth/gcp-auth/login", {"identityId": identity_id, "jwt": jwt})
    assert_token_works(api, login(sign_jwt(keys["good"][0], claims)))
    stranger = login(sign_jwt(keys["other"][0], claims))
    assert stranger.status == 401 and stranger.json["message"] == "invalid signature"
    good = sign_jwt(keys["good"][0], claims)
    head, payload, signature = good.split(".")
    forged_payload = b64url(json.dumps(dict(claims, sub="root@p.iam.gserviceaccount.com")).encode())
    assert login(f"{head}.{forged_payload}.{signature}").status == 401
    expired = login(sign_jwt(keys["good"][0], dict(claims, exp=now - 10)))
    assert expired.status == 401 and expired.json["message"] == "jwt expired"
    audience = login(sign_jwt(keys["good"][0], dict(claims, aud="someone-else")))
    assert audience.status == 401 and audience.json["message"] == "Invalid audience in GCP IAM Token"
    assert login("not.a-jwt").status == 401


def test_gcp_gce_token_needs_google_issuer_and_email(api, clean, keys):
    identity_id, _ = clean
    api.control("POST", "gcp-auth", {"identityId": identity_id, "type": "gce", "publicKeyPem": keys["good"][1]})
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": identity_id, "email": "vm@p.iam.gserviceaccount.com",
              "iat": now, "exp": now + 600}
    login = lambda jwt: api.post("/api/v1/auth/gcp-auth/login", {"identityId": identity_id, "jwt": jwt})
    assert_token_works(api, login(sign_jwt(keys["good"][0], claims)))
    assert login(sign_jwt(keys["good"][0], dict(claims, iss="https://evil.example"))).status == 401
    assert login(sign_jwt(keys["good"][0], {k: v for k, v in claims.items() if k != "email"})).status == 401


# -- Azure and Kubernetes -----------------------------------------------------------

def test_azure_and_kubernetes_tokens_are_compared(api, clean):
    identity_id, _ = clean
    api.control("POST", "azure-auth", {"identityId": identity_id, "token": "azure-token-1"})
    api.control("POST", "kubernetes-auth", {"identityId": identity_id, "token": "k8s-token-1\n"})
    azure = lambda jwt: api.post("/api/v1/auth/azure-auth/login", {"identityId": identity_id, "jwt": jwt})
    k8s = lambda jwt: api.post("/api/v1/auth/kubernetes-auth/login", {"identityId": identity_id, "jwt": jwt})
    assert_token_works(api, azure("azure-token-1"))
    assert azure("azure-token-2").status == 401
    assert_token_works(api, k8s("k8s-token-1\n"))      # the server trims jwt (§3.7)
    assert k8s("k8s-token-2").status == 401
    other = api.add_identity()
    missing = api.post("/api/v1/auth/kubernetes-auth/login", {"identityId": other["identityId"], "jwt": "x"})
    assert missing.status == 404


def test_cloud_login_tokens_renew(api, clean):
    identity_id = api.add_identity(accessTokenTTL=60, accessTokenMaxTTL=3600)["identityId"]
    api.control("POST", "kubernetes-auth", {"identityId": identity_id, "token": "k8s"})
    token = api.post("/api/v1/auth/kubernetes-auth/login", {"identityId": identity_id, "jwt": "k8s"}).json
    renewed = api.post("/api/v1/auth/token/renew", {"accessToken": token["accessToken"]})
    assert renewed.status == 200 and renewed.json["accessToken"] != token["accessToken"]


# -- the fake cloud endpoints ------------------------------------------------------

@pytest.fixture
def cloud(tmp_path, keys):
    config = {"aws": {"accessKeyId": "ASIAROLE", "secretAccessKey": "role-secret", "token": "role-session",
                      "region": "ap-south-1"},
              "gcp": {"email": "sa@p.iam.gserviceaccount.com", "googlePrivateKey": keys["good"][0],
                      "serviceAccountPublicKey": str(tmp_path / "sa.pub.pem")},
              "azure": {"token": "azure-from-imds"}}
    (tmp_path / "sa.pub.pem").write_text(keys["other"][1])
    (tmp_path / "cloud.json").write_text(json.dumps(config))
    import fake_cloud  # noqa: F401  (fails early if it does not even import)
    process = subprocess.Popen([sys.executable, str(HERE / "fake_cloud.py"), "--port", "0", "--config",
                                str(tmp_path / "cloud.json")], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    assert line.startswith("PORT "), line
    try:
        yield Api(f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        stop_server(process)


def test_fake_imds_needs_a_put_token(cloud):
    assert cloud.get("/latest/api/token").status == 405
    token = cloud.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert token.status == 200
    assert cloud.get("/latest/meta-data/iam/security-credentials/").status == 401
    auth = {"X-aws-ec2-metadata-token": token.raw.decode()}
    role = cloud.get("/latest/meta-data/iam/security-credentials/", headers=auth).raw.decode()
    creds = cloud.get("/latest/meta-data/iam/security-credentials/" + role, headers=auth).json
    assert (creds["AccessKeyId"], creds["Token"]) == ("ASIAROLE", "role-session")
    assert cloud.get("/latest/dynamic/instance-identity/document", headers=auth).json["region"] == "ap-south-1"


def test_fake_google_chain(cloud, keys):
    port = cloud.base_url.rsplit(":", 1)[1]
    now = int(time.time())
    assertion = sign_jwt(keys["other"][0], {"iss": "sa@p.iam.gserviceaccount.com", "aud":
                                             f"http://127.0.0.1:{port}/token", "iat": now, "exp": now + 600,
                                             "scope": "https://www.googleapis.com/auth/cloud-platform"})
    form = lambda a: cloud.request("POST", "/token", raw=urlencode(
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": a}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form(sign_jwt(keys["good"][0], {"iss": "x"})).status == 400
    oauth = form(assertion)
    assert oauth.status == 200, oauth
    path = "/v1/projects/-/serviceAccounts/sa%40p.iam.gserviceaccount.com:signJwt"
    body = {"payload": json.dumps({"sub": "sa@p.iam.gserviceaccount.com", "aud": "id-1"})}
    assert cloud.post(path, body).status == 401
    signed = cloud.post(path, body, token=oauth.json["access_token"])
    assert signed.status == 200
    claims = json.loads(base64.urlsafe_b64decode(signed.json["signedJwt"].split(".")[1] + "=="))
    assert claims["aud"] == "id-1" and claims["exp"] > now
    gce = cloud.get("/computeMetadata/v1/instance/service-accounts/default/identity",
                    query={"audience": "id-2", "format": "full"}, headers={"Metadata-Flavor": "Google"})
    assert gce.status == 200 and gce.raw.count(b".") == 2
    assert cloud.get("/computeMetadata/v1/instance/service-accounts/default/identity",
                     query={"audience": "id-2"}).status == 403


def test_fake_azure_imds(cloud):
    query = {"api-version": "2018-02-01", "resource": "https://management.azure.com/"}
    assert cloud.get("/metadata/identity/oauth2/token", query=query).status == 400
    got = cloud.get("/metadata/identity/oauth2/token", query=query, headers={"Metadata": "true"})
    assert got.json["access_token"] == "azure-from-imds"
