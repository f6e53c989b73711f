#!/usr/bin/env python3
"""Loopback stand-ins for the cloud endpoints infisicalfs's cloud logins call.

One HTTP server on 127.0.0.1 plays, by path:
  * AWS IMDSv2: `PUT /latest/api/token` (needs X-aws-ec2-metadata-token-ttl-seconds; a GET is 405,
    as on EC2), `GET /latest/meta-data/iam/security-credentials/[<role>]`,
    `GET /latest/dynamic/instance-identity/document` (all GETs need X-aws-ec2-metadata-token)
  * the GCE metadata server: `GET /computeMetadata/v1/instance/service-accounts/default/identity`
    (`audience`, `format=full`; needs Metadata-Flavor: Google) -> an RS256 ID token signed with
    "Google's" key
  * Google's OAuth token endpoint: `POST /token` (grant_type jwt-bearer; the assertion is verified
    with the service account's public key: signature, iss, aud, exp)
  * the IAM Credentials API: `POST /v1/projects/-/serviceAccounts/<email>:signJwt` (needs an access
    token from /token) -> {"keyId", "signedJwt"} signed with "Google's" key
  * Azure IMDS: `GET /metadata/identity/oauth2/token` (needs Metadata: true, api-version, resource)

    python3 fake_cloud.py --port 0 --config config.json

config.json (every part optional):
  {"aws": {"accessKeyId", "secretAccessKey", "token", "region", "role"},
   "gcp": {"email", "googlePrivateKey": PEM path, "serviceAccountPublicKey": PEM path, "keyId"},
   "azure": {"token"}}

Prints `PORT <n>` once listening; `GET /__test__/requests` gives request counts by "METHOD path".
RSA signing and verification use the `openssl` command (the standard library has no RSA).
Python 3 standard library only.
"""

import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from openssl_rsa import rs256_verify
from serving import serve_until_signalled


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rs256_sign(private_key_path, data):
    result = subprocess.run(["openssl", "dgst", "-sha256", "-sign", private_key_path], input=data,
                            capture_output=True, timeout=10, check=True)
    return result.stdout


def make_jwt(private_key_path, claims, kid=None):
    header = {"alg": "RS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return signing_input + "." + b64url(rs256_sign(private_key_path, signing_input.encode()))


class Cloud:
    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self.imds_tokens = set()
        self.google_tokens = set()
        self.counts = {}
        self.port = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.handle_any("GET")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_POST(self):
        self.handle_any("POST")

    def answer(self, status, body):
        """A str body is sent as text (IMDS, the GCE identity), anything else as JSON."""
        if isinstance(body, str):
            payload, content_type = body.encode(), "text/plain"
        else:
            payload, content_type = json.dumps(body).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def handle_any(self, method):
        cloud = self.server.cloud
        split = urlsplit(self.path)
        path, query = split.path, dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not path.startswith("/__test__/"):
            with cloud.lock:
                key = f"{method} {path}"
                cloud.counts[key] = cloud.counts.get(key, 0) + 1
        try:
            status, body = self.route(cloud, method, path, query, raw)
        except Exception as error:   # visible, and a 500 like a broken cloud
            print(f"fake cloud error: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            status, body = 500, {"error": "internal"}
        self.answer(status, body)
        print(f"{method} {path} {status}", file=sys.stderr, flush=True)

    def route(self, cloud, method, path, query, raw):
        if path == "/__test__/requests":
            with cloud.lock:
                return 200, dict(cloud.counts)
        if path.startswith("/latest/"):
            return self.aws(cloud, method, path)
        if path.startswith("/computeMetadata/"):
            return self.gce(cloud, method, path, query)
        if path == "/token" and method == "POST":
            return self.oauth(cloud, raw)
        if path.startswith("/v1/projects/-/serviceAccounts/") and path.endswith(":signJwt") and method == "POST":
            return self.sign_jwt(cloud, path, raw)
        if path == "/metadata/identity/oauth2/token":
            return self.azure(cloud, method, query)
        return 404, {"error": "not found"}

    # -- AWS IMDSv2 ---------------------------------------------------------

    def aws(self, cloud, method, path):
        aws = cloud.config.get("aws")
        if aws is None:
            return 404, "Not Found"
        if path == "/latest/api/token":
            if method != "PUT":
                return 405, "Method Not Allowed"
            try:
                ttl = int(self.headers.get("X-aws-ec2-metadata-token-ttl-seconds") or "")
            except ValueError:
                return 400, "Bad Request"
            if not 1 <= ttl <= 21600:
                return 400, "Bad Request"
            token = "imds-" + secrets.token_urlsafe(24)
            with cloud.lock:
                cloud.imds_tokens.add(token)
            return 200, token
        with cloud.lock:
            allowed = self.headers.get("X-aws-ec2-metadata-token") in cloud.imds_tokens
        if not allowed:
            return 401, "Unauthorized"
        if method != "GET":
            return 405, "Method Not Allowed"
        role = aws.get("role", "test-role")
        if path == "/latest/meta-data/iam/security-credentials/":
            return 200, role
        if path == "/latest/meta-data/iam/security-credentials/" + role:
            return 200, {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": aws["accessKeyId"],
                         "SecretAccessKey": aws["secretAccessKey"], "Token": aws.get("token", ""),
                         "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))}
        if path == "/latest/dynamic/instance-identity/document":
            return 200, {"accountId": "123456789012", "region": aws.get("region", "us-east-1"),
                         "instanceId": "i-0123456789abcdef0"}
        return 404, "Not Found"

    # -- GCP ----------------------------------------------------------------

    def gce(self, cloud, method, path, query):
        gcp = cloud.config.get("gcp")
        if gcp is None:
            return 404, "Not Found"
        if self.headers.get("Metadata-Flavor") != "Google":
            return 403, "Missing Metadata-Flavor: Google header"
        if method != "GET" or path != "/computeMetadata/v1/instance/service-accounts/default/identity":
            return 404, "Not Found"
        audience = query.get("audience")
        if not audience:
            return 400, "non-empty audience parameter required"
        now = int(time.time())
        claims = {"iss": "https://accounts.google.com", "aud": audience, "azp": "1234567890",
                  "sub": "1234567890", "email": gcp["email"], "email_verified": True, "iat": now, "exp": now + 3600}
        if query.get("format") == "full":
            claims["google"] = {"compute_engine": {"project_id": "test-project", "zone": "us-central1-a",
                                                   "instance_id": "42", "instance_name": "test-vm"}}
        return 200, make_jwt(gcp["googlePrivateKey"], claims, gcp.get("keyId", "google-key"))

    def oauth(self, cloud, raw):
        gcp = cloud.config.get("gcp") or {}
        form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT"}
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT"}
        if header.get("alg") != "RS256" or not rs256_verify(gcp["serviceAccountPublicKey"],
                                                            (parts[0] + "." + parts[1]).encode(), signature):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        now = time.time()
        if claims.get("iss") != gcp.get("email"):
            return 400, {"error": "invalid_grant", "error_description": "Invalid issuer"}
        if claims.get("aud") != f"http://127.0.0.1:{cloud.port}/token":
            return 400, {"error": "invalid_grant", "error_description": "Invalid audience"}
        if not isinstance(claims.get("exp"), int) or claims["exp"] < now or claims["exp"] - claims.get("iat", 0) > 3600:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token"}
        if "https://www.googleapis.com/auth/cloud-platform" not in str(claims.get("scope", "")).split():
            return 400, {"error": "invalid_scope", "error_description": "Invalid scope"}
        token = "ya29." + secrets.token_urlsafe(32)
        with cloud.lock:
            cloud.google_tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def sign_jwt(self, cloud, path, raw):
        gcp = cloud.config.get("gcp") or {}
        auth = self.headers.get("Authorization") or ""
        with cloud.lock:
            known = auth.startswith("Bearer ") and auth[7:] in cloud.google_tokens
        if not known:
            return 401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                   "status": "UNAUTHENTICATED"}}
        email = unquote(path[len("/v1/projects/-/serviceAccounts/"):-len(":signJwt")])
        if email != gcp.get("email"):
            return 403, {"error": {"code": 403, "message": "Permission 'iam.serviceAccounts.signJwt' denied",
                                   "status": "PERMISSION_DENIED"}}
        try:
            payload = json.loads(json.loads(raw)["payload"])
        except (ValueError, KeyError, TypeError):
            return 400, {"error": {"code": 400, "message": "Invalid JSON payload", "status": "INVALID_ARGUMENT"}}
        now = int(time.time())
        payload.setdefault("iat", now)
        payload.setdefault("exp", now + 3600)       # Google adds an hour when there is no exp
        if payload["exp"] > now + 12 * 3600:
            return 400, {"error": {"code": 400, "message": "exp too far in the future", "status": "INVALID_ARGUMENT"}}
        kid = gcp.get("keyId", "google-key")
        return 200, {"keyId": kid, "signedJwt": make_jwt(gcp["googlePrivateKey"], payload, kid)}

    # -- Azure ----------------------------------------------------------------

    def azure(self, cloud, method, query):
        azure = cloud.config.get("azure")
        if azure is None or method != "GET":
            return 404, {"error": "not_found"}
        if self.headers.get("Metadata") != "true":
            return 400, {"error": "invalid_request", "error_description": "Required metadata header not specified"}
        if not query.get("api-version") or not query.get("resource"):
            return 400, {"error": "invalid_request", "error_description": "Required query variable not specified"}
        return 200, {"access_token": azure["token"], "expires_in": "3599", "resource": query["resource"],
                     "token_type": "Bearer"}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    config = {}
    if args.config:
        with open(args.config, encoding="utf-8") as handle:
            config = json.load(handle)
    server = Server((args.host, args.port), Handler)
    server.cloud = Cloud(config)
    server.cloud.port = server.server_address[1]
    serve_until_signalled(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
