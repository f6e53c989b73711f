#!/usr/bin/env python3
"""A loopback stand-in for the Infisical HTTP API, for infisicalfs's tests.

Behaves like the real API for the calls infisicalfs makes: universal-auth
login (with its lockout), the cloud logins (AWS IAM, GCP, Azure, Kubernetes),
OIDC and JWT logins, token renew/revoke, projects (of every type),
`/api/v3/secrets/raw`, secret moves, and folders (`/api/v2/folders`, deprecated
`/api/v1/folders`), with read permissions when a test sets some. Facts come
from `shared/reference/infisical-api.md` (cited "§n") and
`shared/reference/infisical-events-and-limits.md` ("events-and-limits §n"); past
them, from the real server's source, named in the comments. The server is
itself held to the official Python SDKs by the tests beside it.

    python3 infisical_test_server.py --port 0 [--host 127.0.0.1]
        [--tls-cert CERT --tls-key KEY] [--seed seed.json]

Prints one line `PORT <n>` on stdout once listening, logs `METHOD path status`
per request on stderr (never bodies, queries or tokens), and serves until
SIGTERM/SIGINT. Test-only controls live under `/__test__/` without auth; see
`CONTROL_ROUTES` and test_sdk_conformance.py for their shapes.

Python 3 standard library only.
"""

import argparse
import base64
import copy
import hashlib
import hmac
import json
import os
import posixpath
import re
import secrets as pysecrets
import socket
import ssl
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from openssl_rsa import rs256_verify
from serving import serve_until_signalled

MAX_BODY_BYTES = 1024 * 1024          # §1: Fastify's default bodyLimit (1 MiB)
DEFAULT_TTL = 2_592_000               # §3.2: 30 days, both TTL and max TTL
# events-and-limits §2: universal-auth lockout defaults (identity-ua-service.ts login; the attach schema)
LOCKOUT_DEFAULTS = {"lockoutEnabled": True, "lockoutThreshold": 3, "lockoutDurationSeconds": 300,
                    "lockoutCounterResetSeconds": 30}
LOCKED_MESSAGE = "This identity auth method is temporarily locked, please try again later"
ORG_ID = "8d2c6ba5-6f0e-4b3c-9d6a-0c8e5a1f2b7e"
DEFAULT_ENVIRONMENTS = [("dev", "Development"), ("staging", "Staging"), ("prod", "Production")]
SECRET_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")   # §5 folder names / path segments
TOKEN_EXPIRED_MESSAGE = "Your token has expired. Please re-authenticate."
# events-and-limits §3: `ProjectType` of db/schemas/models.ts, in its order
PROJECT_TYPES = ["secret-manager", "cert-manager", "kms", "ssh", "secret-scanning", "pam"]
SECRET_MANAGER = "secret-manager"
# POST /__test__/options: how this server plays an older or differently configured one
DEFAULT_OPTIONS = {"ignoreProjectTypeQuery": False, "moveRoute": True, "legacyExistMessages": False}

# JavaScript's String.prototype.trim() set: the server is Node, and Python's
# str.strip() would also remove \x1c-\x1f, which JS keeps (§5 value rule).
JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
                "\u2028\u2029\u202f\u205f\u3000\ufeff"


# ---------------------------------------------------------------------------
# Errors: the one place that shapes error bodies (§2).
# ---------------------------------------------------------------------------

DEFAULT_ERROR_NAMES = {
    400: "BadRequest", 401: "UnauthorizedError", 403: "PermissionDenied", 404: "NotFound",
    413: "PayloadTooLarge", 422: "ValidationFailure", 429: "RateLimitExceeded",
    500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
}


class ApiError(Exception):
    """An error answer: `{"reqId","statusCode","message","error"}` (+ details)."""

    def __init__(self, status, message, error=None, details=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error or DEFAULT_ERROR_NAMES.get(status, "Error")
        self.details = details
        self.headers = headers or {}

    def body(self, req_id):
        body = {"reqId": req_id, "statusCode": self.status, "message": self.message, "error": self.error}
        if self.details is not None:
            body["details"] = self.details
        return body


class RouteNotFound(ApiError):
    """Fastify's own 404 for a route it does not have: no reqId, `error: "Not Found"`."""

    def __init__(self, method, url):
        super().__init__(404, f"Route {method}:{url} not found", "Not Found")

    def body(self, req_id):
        return {"message": self.message, "error": "Not Found", "statusCode": 404}


def new_req_id():
    """§1: `req-` + 14 alphanumerics."""
    alphabet = string.ascii_letters + string.digits
    return "req-" + "".join(pysecrets.choice(alphabet) for _ in range(14))


def bad_request(message):
    return ApiError(400, message)


def not_found(message, error="NotFound"):
    return ApiError(404, message, error)


class Issues:
    """Collects zod-like issues; raises 422 with `message` = the array (§2)."""

    def __init__(self):
        self.items = []

    def add(self, code, path, message, **extra):
        issue = {"code": code}
        issue.update(extra)
        issue["path"] = path if isinstance(path, list) else [path]
        issue["message"] = message
        self.items.append(issue)

    def raise_if_any(self):
        if self.items:
            raise ApiError(422, self.items, "ValidationFailure")


def js_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def field(source, name, issues, kind="string", required=False, default=None, nullable=False, trim=True):
    """Reads one field the way the route's zod schema would (strings trimmed unless told)."""
    if name not in source:
        if required:
            issues.add("invalid_type", name, "Required", expected=kind, received="undefined")
        return default
    value = source[name]
    if value is None:
        if not nullable:
            issues.add("invalid_type", name, f"Expected {kind}, received null", expected=kind, received="null")
            return default
        return None
    if js_type(value) != kind:
        issues.add("invalid_type", name, f"Expected {kind}, received {js_type(value)}",
                   expected=kind, received=js_type(value))
        return default
    if kind == "string" and trim:
        value = js_trim(value)
    return value


def enum_field(source, name, options, issues, default):
    """`z.enum([...]).default(d)`: exact string match, else 422 (§4.2 booleans, §4 type)."""
    if name not in source or source[name] is None:
        return default
    value = source[name]
    if not isinstance(value, str) or value not in options:
        expected = " | ".join(f"'{o}'" for o in options)
        issues.add("invalid_enum_value", name, f"Invalid enum value. Expected {expected}, received '{value}'",
                   received=value, options=list(options))
        return default
    return value


def bool_query(query, name, issues, default=False):
    """Raw-secrets booleans: exactly "true"/"false" else 422 (§4.2)."""
    return enum_field(query, name, ["true", "false"], issues, "true" if default else "false") == "true"


def lenient_bool(value, default=False):
    """`booleanSchema` of sanitizedSchemas.ts (folders' `recursive`, `forceDelete`): any
    string but "", "0" and "false" (any case) is true. infisical_sdk sends "False" here."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text == "":
        return False
    try:
        if float(text) == 0:
            return False
    except ValueError:
        pass
    return text.lower() != "false"


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def now_iso():
    """ISO-8601 with milliseconds and Z (§4.1)."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def js_trim(text):
    return text.strip(JS_WHITESPACE)


def transform_value(value):
    """§5: ends with \\n ⇒ trim both ends and keep one \\n; else trim both ends."""
    return js_trim(value) + "\n" if value.endswith("\n") else js_trim(value)


def remove_trailing_slash(path):
    """`removeTrailingSlash` of the server: one trailing `/` goes, `/` stays."""
    return path[:-1] if path != "/" and path.endswith("/") else path


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------

class State:
    """Everything the server knows. Guarded by `lock`; handlers run under it."""

    def __init__(self):
        self.lock = threading.RLock()
        self.signing_key = pysecrets.token_bytes(32)
        self.temp_files = []      # public keys seeded for GCP auth; removed at exit
        self.reset()

    def reset(self):
        self.identities = {}      # identityId -> identity
        self.client_ids = {}      # clientId -> identityId
        self.tokens = {}          # token string -> {"record": tokenId, "exp": float|None}
        self.token_records = {}   # tokenId -> record
        self.projects = {}        # projectId -> project
        self.folders = {}         # folderId -> folder
        self.secrets = []         # secret records, creation order
        self.imports = []         # {"folderId", "importEnv", "importPath", "id"}
        self.faults = []
        self.request_counts = {}
        self.request_log = []     # last 500 API requests: method, route, query, body keys (no values)
        self.aws_keys = {}        # AWS access key id -> {secretAccessKey, sessionToken, account, arn, userId}
        self.lockouts = {}        # (identityId, clientId) -> {"failedAttempts", "lockedOut", "expiresAt"}
        self.options = dict(DEFAULT_OPTIONS)
        self.permissions = []     # read-deny rules: {id, identityId, projectId, environment, secretPath, deny}
        self.times_locked = {}    # (identityId, clientId) -> how often a lockout began (never reset but by reset)

    # -- identities and tokens (§3) ----------------------------------------

    def add_identity(self, spec):
        identity_id = spec.get("identityId") or str(uuid.uuid4())
        actor_type = spec.get("actorType", "identity")
        if actor_type not in ("identity", "user"):
            raise bad_request("actorType must be identity or user")
        identity = {
            "identityId": identity_id,
            "name": spec.get("name") or f"test-{actor_type}",
            "clientId": spec.get("clientId"),
            "clientSecret": spec.get("clientSecret"),
            "accessTokenTTL": int(spec.get("accessTokenTTL", DEFAULT_TTL)),
            "accessTokenMaxTTL": int(spec.get("accessTokenMaxTTL", DEFAULT_TTL)),
            "actorType": actor_type,
            "userId": (spec.get("userId") or str(uuid.uuid4())) if actor_type == "user" else None,
            "revokedClientSecrets": [],
        }
        for name, default in LOCKOUT_DEFAULTS.items():
            value = spec.get(name, default)
            if name == "lockoutEnabled":
                if not isinstance(value, bool):
                    raise bad_request("lockoutEnabled must be a boolean")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                # The real minimums (1 / 30 s / 5 s) are not enforced: tests want short windows.
                raise bad_request(f"{name} must be a positive number")
            identity[name] = value
        self.identities[identity_id] = identity
        if identity["clientId"]:
            self.client_ids[identity["clientId"]] = identity_id
        if spec.get("accessToken"):
            # A fixed static token that never expires (like a token-auth token with TTL 0).
            record = self._new_token_record(identity, ttl=0, max_ttl=0)
            self.tokens[spec["accessToken"]] = {"record": record["id"], "exp": None}
        result = {"identityId": identity_id, "clientId": identity["clientId"], "actorType": actor_type}
        if identity["userId"]:
            result["userId"] = identity["userId"]
        return result

    def _new_token_record(self, identity, ttl, max_ttl):
        record = {
            "id": str(uuid.uuid4()), "identityId": identity["identityId"], "ttl": ttl, "maxTTL": max_ttl,
            "createdAt": time.time(), "lastRenewedAt": None, "revoked": False, "forcedExpired": False,
        }
        self.token_records[record["id"]] = record
        return record

    def issue_token(self, record):
        """§3.2: a server-signed JWT (identityId, identityAccessTokenId, exp); opaque to clients."""
        now = time.time()
        exp = now + record["ttl"] if record["ttl"] > 0 else None
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {"identityId": record["identityId"], "identityAccessTokenId": record["id"],
                   "authTokenType": "identityAccessToken", "iat": int(now), "jti": uuid.uuid4().hex}
        if exp is not None:
            payload["exp"] = int(exp)
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
        signature = hmac.new(self.signing_key, signing_input.encode(), hashlib.sha256).digest()
        token = signing_input + "." + b64url(signature)
        self.tokens[token] = {"record": record["id"], "exp": exp}
        return token

    def expire_tokens(self, identity_id=None):
        count = 0
        for record in self.token_records.values():
            if identity_id is None or record["identityId"] == identity_id:
                record["forcedExpired"] = True
                count += 1
        return count

    # -- projects, environments, folders ------------------------------------

    def add_project(self, spec):
        slug = spec.get("slug")
        if not slug:
            raise bad_request("slug is required")
        project_id = spec.get("id") or str(uuid.uuid4())
        if project_id in self.projects or self.project_by_slug(slug):
            raise bad_request(f"Project {project_id} / {slug} already exists")
        project_type = spec.get("type", SECRET_MANAGER)
        if project_type not in PROJECT_TYPES:
            raise bad_request(f"type must be one of {', '.join(PROJECT_TYPES)}")
        stamp = now_iso()
        project = {
            "id": project_id, "name": spec.get("name") or slug, "slug": slug,
            "description": spec.get("description"), "type": project_type, "orgId": ORG_ID,
            "version": 3, "createdAt": stamp, "updatedAt": stamp,
            "autoCapitalization": bool(spec.get("autoCapitalization", False)),
            "hasDeleteProtection": False, "pitVersionLimit": 10, "upgradeStatus": None,
            "environments": [], "members": set(spec.get("members") or []),
        }
        # Projects of the other products have no environments [U] unless the test names some.
        default_envs = [s for s, _ in DEFAULT_ENVIRONMENTS] if project_type == SECRET_MANAGER else []
        for env in spec.get("environments") or default_envs:
            env_slug, env_name = (env.get("slug"), env.get("name")) if isinstance(env, dict) else (env, None)
            default_names = dict(DEFAULT_ENVIRONMENTS)
            environment = {"id": str(uuid.uuid4()), "name": env_name or default_names.get(env_slug, env_slug),
                           "slug": env_slug}
            project["environments"].append(environment)
            root = self._new_folder(environment["id"], project_id, "root", None)
            environment["rootFolderId"] = root["id"]
        self.projects[project_id] = project
        return project

    def project_by_slug(self, slug):
        return next((p for p in self.projects.values() if p["slug"] == slug), None)

    def _new_folder(self, env_id, project_id, name, parent_id, description=None):
        stamp = now_iso()
        folder = {"id": str(uuid.uuid4()), "name": name, "version": 1, "createdAt": stamp, "updatedAt": stamp,
                  "envId": env_id, "parentId": parent_id, "isReserved": False, "description": description,
                  "lastSecretModified": None, "_projectId": project_id}
        self.folders[folder["id"]] = folder
        return folder

    @staticmethod
    def environment(project, env_slug):
        return next((e for e in project["environments"] if e["slug"] == env_slug), None)

    def children(self, folder_id):
        return [f for f in self.folders.values() if f["parentId"] == folder_id]

    def child(self, folder_id, name):
        return next((f for f in self.children(folder_id) if f["name"] == name), None)

    def folder_at(self, environment, path):
        """The folder at a canonical path, or None. §5: the path must equal its canonical form."""
        segments = [s for s in path.split("/") if s]
        if path != "/" + "/".join(segments):
            return None
        folder = self.folders[environment["rootFolderId"]]
        for segment in segments:
            folder = self.child(folder["id"], segment)
            if folder is None:
                return None
        return folder

    def folder_path(self, folder):
        names = []
        while folder["parentId"] is not None:
            names.append(folder["name"])
            folder = self.folders[folder["parentId"]]
        return "/" + "/".join(reversed(names))

    def make_folders(self, project, environment, path):
        """mkdir -p (§6 create); returns the deepest folder."""
        folder = self.folders[environment["rootFolderId"]]
        for segment in [s for s in path.split("/") if s]:
            found = self.child(folder["id"], segment)
            folder = found or self._new_folder(environment["id"], project["id"], segment, folder["id"])
        return folder

    def descendants(self, folder):
        """The folder and all below it, depth first, in creation order."""
        result = [folder]
        for child in self.children(folder["id"]):
            result.extend(self.descendants(child))
        return result

    def delete_folder_tree(self, folder):
        ids = {f["id"] for f in self.descendants(folder)}
        self.secrets = [s for s in self.secrets if s["folderId"] not in ids]
        self.imports = [i for i in self.imports if i["folderId"] not in ids]
        for folder_id in ids:
            del self.folders[folder_id]

    # -- secrets --------------------------------------------------------------

    def secrets_in(self, folder_id, secret_type=None, user_id=None):
        result = []
        for secret in self.secrets:
            if secret["folderId"] != folder_id:
                continue
            if secret_type and secret["type"] != secret_type:
                continue
            if secret["type"] == "personal" and secret["userId"] != user_id:
                continue
            result.append(secret)
        return result

    def find_secret(self, folder_id, key, secret_type, user_id):
        for secret in self.secrets:
            if secret["folderId"] == folder_id and secret["key"] == key and secret["type"] == secret_type:
                if secret_type == "shared" or secret["userId"] == user_id:
                    return secret
        return None

    def add_secret(self, project, environment, folder, key, value, comment="", secret_type="shared",
                   user_id=None, skip_multiline=None, reminder_note=None, reminder_days=None, tag_ids=None,
                   metadata=None):
        stamp = now_iso()
        secret = {
            "id": str(uuid.uuid4()), "projectId": project["id"], "envSlug": environment["slug"],
            "folderId": folder["id"], "key": key, "value": value, "comment": comment, "type": secret_type,
            "userId": user_id if secret_type == "personal" else None, "version": 1,
            "createdAt": stamp, "updatedAt": stamp, "skipMultilineEncoding": skip_multiline,
            "secretReminderNote": reminder_note, "secretReminderRepeatDays": reminder_days,
            "tagIds": list(tag_ids or []), "metadata": [dict(m) for m in metadata or []], "history": [],
        }
        secret["history"].append(self.snapshot(secret))
        self.secrets.append(secret)
        folder["lastSecretModified"] = stamp
        return secret

    def touch(self, secret):
        """A new version of a secret changed in place (value, key or settings)."""
        secret["version"] += 1
        secret["updatedAt"] = now_iso()
        self.folders[secret["folderId"]]["lastSecretModified"] = secret["updatedAt"]
        secret["history"].append(self.snapshot(secret))

    @staticmethod
    def snapshot(secret):
        return {k: secret[k] for k in ("key", "value", "comment", "version", "updatedAt", "createdAt",
                                       "skipMultilineEncoding", "secretReminderNote",
                                       "secretReminderRepeatDays")}

    def dump(self):
        return {
            "identities": list(self.identities.values()),
            "tokens": len(self.tokens),
            "tokenRecords": list(self.token_records.values()),
            "projects": [{**{k: v for k, v in p.items() if k != "members"}, "members": sorted(p["members"])}
                         for p in self.projects.values()],
            "folders": [{**f, "path": self.folder_path(f)} for f in self.folders.values()],
            "secrets": [{k: v for k, v in s.items() if k != "history"} for s in self.secrets],
            "imports": self.imports,
            "faults": self.faults,
            "requests": self.request_counts,
            "options": self.options,
            "permissions": self.permissions,
        }


# ---------------------------------------------------------------------------
# Request context
# ---------------------------------------------------------------------------

class Request:
    def __init__(self, method, path, query, body, headers, params, template):
        self.method = method
        self.path = path
        self.query = query
        self.body = body if isinstance(body, dict) else {}
        self.raw_body = body
        self.headers = headers
        self.params = params
        self.template = template
        self.actor = None       # set by authenticate()


def authenticate(state, req):
    """§2/§3.2: Bearer token = everything after the first 7 characters."""
    header = req.headers.get("Authorization")
    if not header:
        # No header, or the empty value the Rust SDK sends before login (§1).
        raise ApiError(401, "Token missing", "UnauthorizedError")
    token = header[7:]
    entry = state.tokens.get(token)
    record = state.token_records.get(entry["record"]) if entry else None
    if record is None:
        # Opaque check: unknown or malformed tokens answer 401.
        raise ApiError(401, "No identity access token found", "UnauthorizedError")
    # The JWT is verified before the token record is looked up: an expired token is 403 (§2) even
    # when its record was revoked or deleted since.
    expired = record["forcedExpired"] or (entry["exp"] is not None and time.time() >= entry["exp"])
    if expired:
        raise ApiError(403, TOKEN_EXPIRED_MESSAGE, "TokenError")
    if record["revoked"] or record.get("deleted"):
        raise ApiError(401, "No identity access token found", "UnauthorizedError")
    identity = state.identities[record["identityId"]]
    req.actor = identity
    return identity


def member_project(state, req, project):
    """§7: non-members get 403 ProjectMembershipNotFound."""
    if req.actor["identityId"] not in project["members"]:
        raise ApiError(403, f"You are not a member of this project with ID {project['id']}",
                       "ProjectMembershipNotFound")
    return project


def check_project_type(project, action_type):
    """permission-service.ts `getProjectPermission` (Infisical/infisical backend/src/ee/services/
    permission/): after the project is found and before membership is checked, a route acting as
    another product answers 400 (events-and-limits §3)."""
    if action_type is not None and project["type"] != action_type:
        raise bad_request(f"The project is of type {project['type']}. Operations of type {action_type} "
                          "are not allowed.")


def project_by_id(state, req, project_id, action_type=None):
    project = state.projects.get(project_id)
    if project is None:
        raise not_found(f"Project with {project_id} not found")
    check_project_type(project, action_type)
    return member_project(state, req, project)


def project_by_slug(state, req, slug, action_type=None):
    project = state.project_by_slug(slug)
    if project is None:
        raise not_found(f"Project with slug '{slug}' not found")
    check_project_type(project, action_type)
    return member_project(state, req, project)


# ---------------------------------------------------------------------------
# Auth routes (§3.1, §3.2)
# ---------------------------------------------------------------------------

def login_response(identity, token, record):
    return {"accessToken": token, "expiresIn": record["ttl"], "accessTokenMaxTTL": record["maxTTL"],
            "tokenType": "Bearer"}


def live_lockout(state, key):
    """The lockout record of (identityId, clientId), or None once its keystore expiry has passed."""
    record = state.lockouts.get(key)
    if record is not None and time.time() >= record["expiresAt"]:
        del state.lockouts[key]
        record = None
    return record


def route_universal_auth_login(state, req):
    """§3.1 and events-and-limits §2, as identity-ua-service.ts `login` (Infisical/infisical
    backend/src/services/identity-ua/): an unknown client id is 401 and not counted; a locked
    record refuses every attempt, the right secret included, without extending the lock; a wrong or
    revoked secret (revoked ones are filtered out before comparing) adds 1 and rewrites the record
    with the counter-reset expiry, or the lock duration once the threshold is reached; a good login
    deletes the record."""
    issues = Issues()
    client_id = field(req.body, "clientId", issues, required=True)
    client_secret = field(req.body, "clientSecret", issues, required=True)
    issues.raise_if_any()
    identity = state.identities.get(state.client_ids.get(client_id, ""))
    if identity is None:
        raise ApiError(401, "Invalid credentials", "UnauthorizedError")
    key = (identity["identityId"], client_id)
    lockout = live_lockout(state, key)
    if lockout is not None and lockout["lockedOut"]:
        raise ApiError(401, LOCKED_MESSAGE, "UnauthorizedError")
    if not hmac.compare_digest(str(identity["clientSecret"]).encode(), client_secret.encode()):
        if identity["lockoutEnabled"]:
            lockout = lockout or {"failedAttempts": 0, "lockedOut": False}
            lockout["failedAttempts"] += 1
            if lockout["failedAttempts"] >= identity["lockoutThreshold"]:
                lockout["lockedOut"] = True
                state.times_locked[key] = state.times_locked.get(key, 0) + 1
            lockout["expiresAt"] = time.time() + (identity["lockoutDurationSeconds"] if lockout["lockedOut"]
                                                  else identity["lockoutCounterResetSeconds"])
            state.lockouts[key] = lockout
        raise ApiError(401, "Invalid credentials", "UnauthorizedError")
    state.lockouts.pop(key, None)
    record = state._new_token_record(identity, identity["accessTokenTTL"], identity["accessTokenMaxTTL"])
    return 200, login_response(identity, state.issue_token(record), record)


# ---------------------------------------------------------------------------
# Cloud logins (§3.3-§3.7). Each identity gets a method through a /__test__
# control; what a real server asks of AWS, Google, Azure or the cluster is
# answered from what the test seeded, never by calling out.
# ---------------------------------------------------------------------------

STS_BODY = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
AWS_AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/\s]+)/(\d{8})/([^/\s]+)/([^/\s]+)/aws4_request,\s*"
                               r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$")
AWS_REGION = re.compile(r"^[a-z0-9-]{1,20}$")


def identity_with_method(state, req, method_key, label):
    issues = Issues()
    identity_id = field(req.body, "identityId", issues, required=True)
    issues.raise_if_any()
    identity = state.identities.get(identity_id)
    if identity is None or method_key not in identity:
        raise ApiError(404, f"{label} auth method not found for identity, did you configure {label} auth?")
    return identity


def cloud_login_success(state, identity):
    record = state._new_token_record(identity, identity["accessTokenTTL"], identity["accessTokenMaxTTL"])
    return 200, login_response(identity, state.issue_token(record), record)


def decode_b64_field(req, name):
    issues = Issues()
    value = field(req.body, name, issues, required=True)
    issues.raise_if_any()
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise bad_request(f"{name} is not base64")


def aws_uri_encode(text):
    safe = string.ascii_letters + string.digits + "-._~"
    return "".join(c if c in safe else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def sigv4_signature(secret_key, day, region, service, string_to_sign):
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def sts_get_caller_identity(state, method, url_host, headers, body):
    """What STS does with the replayed request: checks the SigV4 signature with the secret key the
    test seeded for the access key, the date, the session token; answers the caller's identity."""
    def sts_error(code, message):
        return ApiError(401, f"AWS STS rejected the request: {code}: {message}", "UnauthorizedError")

    match = AWS_AUTHORIZATION.match(headers.get("authorization", ""))
    if match is None:
        raise sts_error("IncompleteSignature", "Authorization header is not a SigV4 signature")
    access_key, day, region, service, signed, signature = match.groups()
    key = state.aws_keys.get(access_key)
    if key is None:
        raise sts_error("InvalidClientTokenId", "The security token included in the request is invalid.")
    if service != "sts":
        raise sts_error("SignatureDoesNotMatch", "Credential should be scoped to correct service: 'sts'.")
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise sts_error("IncompleteSignature", "X-Amz-Date is missing or malformed")
    if amz_date[:8] != day:
        raise sts_error("SignatureDoesNotMatch", "Credential date does not match X-Amz-Date")
    if abs(time.time() - signed_at) > 15 * 60:
        raise sts_error("SignatureDoesNotMatch", "Signature expired")
    names = signed.split(";")
    if names != sorted(names) or "host" not in names or "x-amz-date" not in names:
        raise sts_error("SignatureDoesNotMatch", "SignedHeaders must be sorted and include host and x-amz-date")
    if headers.get("host", url_host) != url_host:
        raise sts_error("SignatureDoesNotMatch", "Host does not match the endpoint")
    canonical_headers = ""
    for name in names:
        if name == "host":
            value = url_host
        elif name in headers:
            value = headers[name]
        else:
            # Signed but not sent (the Rust SDK's x-amz-security-token): the replay cannot match.
            raise sts_error("SignatureDoesNotMatch", f"signed header {name} was not sent")
        canonical_headers += f"{name}:{' '.join(str(value).split())}\n"
    canonical_request = "\n".join([method.upper(), "/", "", canonical_headers, signed,
                                   hashlib.sha256(body).hexdigest()])
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, f"{day}/{region}/{service}/aws4_request",
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    expected = sigv4_signature(key["secretAccessKey"], day, region, service, string_to_sign)
    if not hmac.compare_digest(expected, signature):
        raise sts_error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                 "signature you provided.")
    if key.get("sessionToken"):
        if not hmac.compare_digest(headers.get("x-amz-security-token", ""), key["sessionToken"]):
            raise sts_error("InvalidClientTokenId", "The security token included in the request is invalid.")
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if form != STS_BODY:
        raise sts_error("InvalidAction", "Could not find operation GetCallerIdentity")
    return key


def route_aws_auth_login(state, req):
    """§3.3: decode the signed STS request, take the region from the Credential scope, "replay" it
    to STS (emulated: sts_get_caller_identity), check the caller's account and ARN."""
    identity = identity_with_method(state, req, "awsAuth", "AWS")
    issues = Issues()
    method = field(req.body, "iamHttpRequestMethod", issues, default="POST")
    issues.raise_if_any()
    body = decode_b64_field(req, "iamRequestBody")
    try:
        headers = json.loads(decode_b64_field(req, "iamRequestHeaders"))
        if not isinstance(headers, dict):
            raise ValueError
    except ValueError:
        raise bad_request("iamRequestHeaders is not a JSON object")
    headers = {str(k).lower(): str(v) for k, v in headers.items()}
    match = AWS_AUTHORIZATION.match(headers.get("authorization", ""))
    region = match.group(3) if match else "us-east-1"
    if not AWS_REGION.match(region):
        raise bad_request("Invalid AWS region")
    caller = sts_get_caller_identity(state, method, f"sts.{region}.amazonaws.com", headers, body)
    config = identity["awsAuth"]
    accounts = config.get("allowedAccountIds") or []
    if accounts and caller["account"] not in accounts:
        raise ApiError(403, "Access denied: AWS account ID not allowed.", "ForbiddenError")
    principals = config.get("allowedPrincipalArns") or []
    if principals and not any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), caller["arn"]) for p in principals):
        raise ApiError(403, "Access denied: AWS principal ARN not allowed.", "ForbiddenError")
    return cloud_login_success(state, identity)


def jwt_parts(token):
    parts = token.split(".")
    if len(parts) != 3:
        raise ApiError(401, "jwt malformed", "UnauthorizedError")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except ValueError:
        raise ApiError(401, "jwt malformed", "UnauthorizedError")
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ApiError(401, "jwt malformed", "UnauthorizedError")
    return header, payload, (parts[0] + "." + parts[1]).encode(), signature


def route_gcp_auth_login(state, req):
    """§3.4/§3.5: verify the RS256 signature against the seeded public key (Google's certificates in
    production), expiry, audience = identity ID; gce tokens need Google's issuer and an email."""
    identity = identity_with_method(state, req, "gcpAuth", "GCP")
    issues = Issues()
    token = field(req.body, "jwt", issues, required=True)
    issues.raise_if_any()
    config = identity["gcpAuth"]
    header, payload, signed, signature = jwt_parts(token)
    if header.get("alg") != "RS256" or not rs256_verify(config["publicKeyPath"], signed, signature):
        raise ApiError(401, "invalid signature", "UnauthorizedError")
    exp = payload.get("exp")
    if not isinstance(exp, (int, float)) or time.time() >= exp:
        raise ApiError(401, "jwt expired", "UnauthorizedError")
    if payload.get("aud") != identity["identityId"]:
        label = "GCP IAM" if config["type"] == "iam" else "GCP GCE"
        raise ApiError(401, f"Invalid audience in {label} Token", "UnauthorizedError")
    if config["type"] == "gce":
        if payload.get("iss") not in ("https://accounts.google.com", "accounts.google.com"):
            raise ApiError(401, "Invalid issuer in GCP GCE Token", "UnauthorizedError")
        email = payload.get("email")
    else:
        email = payload.get("sub")
    if not email:
        raise ApiError(401, "GCP token has no service account email", "UnauthorizedError")
    allowed = config.get("allowedServiceAccounts") or []
    if allowed and email not in allowed:
        raise ApiError(403, "Access denied: GCP service account not allowed.", "ForbiddenError")
    return cloud_login_success(state, identity)


def route_azure_auth_login(state, req):
    """§3.6: the real server checks the token against Azure's JWKS; here, against what the fake
    IMDS issued (seeded)."""
    identity = identity_with_method(state, req, "azureAuth", "Azure")
    issues = Issues()
    token = field(req.body, "jwt", issues, required=True)
    issues.raise_if_any()
    if not hmac.compare_digest(token.encode(), identity["azureAuth"]["token"].encode()):
        raise ApiError(401, "invalid signature", "UnauthorizedError")
    return cloud_login_success(state, identity)


def route_kubernetes_auth_login(state, req):
    """§3.7: the server trims jwt; TokenReview is emulated by comparing with the seeded token."""
    identity = identity_with_method(state, req, "kubernetesAuth", "Kubernetes")
    issues = Issues()
    token = field(req.body, "jwt", issues, required=True)
    issues.raise_if_any()
    if not hmac.compare_digest(token.encode(), identity["kubernetesAuth"]["token"].strip().encode()):
        raise ApiError(401, "Access denied: Kubernetes token review failed: token is not authenticated",
                       "UnauthorizedError")
    return cloud_login_success(state, identity)


JWS_SHAPE = re.compile(r"^[a-zA-Z0-9\-_]+?\.[a-zA-Z0-9\-_]+?\.([a-zA-Z0-9\-_]+)?$")


def decode_jwt_loosely(token):
    """What jsonwebtoken's `decode(token, {complete: true})` yields: None unless the token has the
    JWS shape and a JSON-object header; else (header, payload-or-None)."""
    if not JWS_SHAPE.match(token):
        return None
    parts = token.split(".")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        payload = None
    return header, payload if isinstance(payload, dict) else None


def verify_seeded_jwt(token, accepted):
    """Stands for `jwt.verify` against the provider's keys: the token the test seeded verifies, any
    other one fails with "invalid signature"; a seeded token whose `exp` passed is "jwt expired"
    (jsonwebtoken checks the signature, then `exp`). Returns None or the jsonwebtoken message."""
    if not hmac.compare_digest(token.encode(), accepted.strip().encode()):
        return "invalid signature"
    decoded = decode_jwt_loosely(token)
    exp = decoded[1].get("exp") if decoded and decoded[1] else None
    if isinstance(exp, (int, float)) and not isinstance(exp, bool) and time.time() >= exp:
        return "jwt expired"
    return None


def jwt_login_body(state, req, method_key, label):
    """`{identityId, jwt}` of the OIDC/JWT login schemas, both trimmed (zod 422 for either);
    `subOrganizationName` (and any other key, e.g. `organizationSlug`) is not used here. Then the
    identity, or 404 without the method. Returns (identity, jwt)."""
    issues = Issues()
    field(req.body, "identityId", issues, required=True)
    token = field(req.body, "jwt", issues, required=True)
    issues.raise_if_any()
    return identity_with_method(state, req, method_key, label), token


def route_oidc_auth_login(state, req):
    """identity-oidc-auth-service.ts `login` (Infisical/infisical backend/src/services/identity-oidc-auth/):
    no OIDC auth ⇒ 404; a token jsonwebtoken cannot decode ⇒ 401 "Invalid JWT"; a verification error ⇒
    401 "Access denied: <error>" when the token names a `kid`, else "Access denied: Unable to verify
    JWT signature with any available signing key. <error>". The accepted token is the one the test
    seeded with POST /__test__/oidc-auth (the provider's JWKS in production)."""
    identity, token = jwt_login_body(state, req, "oidcAuth", "OIDC")
    decoded = decode_jwt_loosely(token)
    if decoded is None:
        raise ApiError(401, "Invalid JWT", "UnauthorizedError")
    error = verify_seeded_jwt(token, identity["oidcAuth"]["token"])
    if error is not None:
        if decoded[0].get("kid"):
            raise ApiError(401, f"Access denied: {error}", "UnauthorizedError")
        raise ApiError(401, "Access denied: Unable to verify JWT signature with any available signing key. "
                            f"{error}", "UnauthorizedError")
    return cloud_login_success(state, identity)


def route_jwt_auth_login(state, req):
    """identity-jwt-auth-service.ts `login` (backend/src/services/identity-jwt-auth/): no JWT auth ⇒ 404;
    undecodable ⇒ 401 "Invalid JWT"; with static public keys (the default here) a failure is 401
    "Access denied: JWT verification failed with all keys. Errors - <error>", with a JWKS URL 401
    "Access denied: <error>". The accepted token is the one seeded with POST /__test__/jwt-auth."""
    identity, token = jwt_login_body(state, req, "jwtAuth", "JWT")
    if decode_jwt_loosely(token) is None:
        raise ApiError(401, "Invalid JWT", "UnauthorizedError")
    config = identity["jwtAuth"]
    error = verify_seeded_jwt(token, config["token"])
    if error is not None:
        if config["configurationType"] == "jwks":
            raise ApiError(401, f"Access denied: {error}", "UnauthorizedError")
        raise ApiError(401, f"Access denied: JWT verification failed with all keys. Errors - {error}",
                       "UnauthorizedError")
    return cloud_login_success(state, identity)


def control_identity(state, body):
    identity = state.identities.get(body.get("identityId") or "")
    if identity is None:
        raise not_found("identity not found")
    return identity


def control_client_secret(state, req):
    """Replaces an identity's client secret; the old one is revoked (logins with it fail and count)."""
    client_id = req.body.get("clientId") or ""
    identity = state.identities.get(state.client_ids.get(client_id, ""))
    if identity is None:
        raise not_found(f"no identity has client id {client_id!r}")
    new_secret = req.body.get("clientSecret")
    if not isinstance(new_secret, str) or not new_secret:
        raise bad_request("clientSecret must be a non-empty string")
    identity["revokedClientSecrets"].append(identity["clientSecret"])
    identity["clientSecret"] = new_secret
    return 200, {"ok": True, "identityId": identity["identityId"], "clientId": client_id}


def control_lockouts(state, req):
    """Every universal-auth client: its live failure count and lock, and how often it was locked."""
    entries = []
    for identity in state.identities.values():
        if not identity["clientId"]:
            continue
        key = (identity["identityId"], identity["clientId"])
        record = live_lockout(state, key)
        locked = bool(record and record["lockedOut"])
        entries.append({"clientId": identity["clientId"], "identityId": identity["identityId"],
                        "failures": record["failedAttempts"] if record else 0, "locked": locked,
                        "lockedUntil": record["expiresAt"] if locked else None,
                        "timesLocked": state.times_locked.get(key, 0)})
    return 200, {"lockouts": entries}


def control_aws_auth(state, req):
    body = req.body
    identity = control_identity(state, body)
    identity["awsAuth"] = {"allowedAccountIds": body.get("allowedAccountIds") or [],
                           "allowedPrincipalArns": body.get("allowedPrincipalArns") or []}
    if body.get("accessKeyId"):
        account = body.get("account", "123456789012")
        state.aws_keys[body["accessKeyId"]] = {
            "secretAccessKey": body["secretAccessKey"], "sessionToken": body.get("sessionToken"),
            "account": account, "arn": body.get("arn", f"arn:aws:iam::{account}:user/test"),
            "userId": body.get("userId", "AIDATESTUSER")}
    return 200, {"ok": True}


def control_gcp_auth(state, req):
    body = req.body
    identity = control_identity(state, body)
    kind = body.get("type", "iam")
    if kind not in ("iam", "gce"):
        raise bad_request("type must be iam or gce")
    handle = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)
    with handle:
        handle.write(body["publicKeyPem"])
    state.temp_files.append(handle.name)
    identity["gcpAuth"] = {"type": kind, "publicKeyPath": handle.name,
                           "allowedServiceAccounts": body.get("allowedServiceAccounts") or []}
    return 200, {"ok": True}


def control_azure_auth(state, req):
    identity = control_identity(state, req.body)
    identity["azureAuth"] = {"token": req.body["token"]}
    return 200, {"ok": True}


def seeded_token(body):
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise bad_request("token must be a non-empty string")
    return token


def control_oidc_auth(state, req):
    """Gives the identity OIDC auth; the token is the one JWT accepted from now on (a second call
    replaces it: a rotation)."""
    identity = control_identity(state, req.body)
    identity["oidcAuth"] = {"token": seeded_token(req.body)}
    return 200, {"ok": True}


def control_jwt_auth(state, req):
    identity = control_identity(state, req.body)
    kind = req.body.get("configurationType", "static")
    if kind not in ("static", "jwks"):
        raise bad_request("configurationType must be static or jwks")
    identity["jwtAuth"] = {"token": seeded_token(req.body), "configurationType": kind}
    return 200, {"ok": True}


def control_kubernetes_auth(state, req):
    identity = control_identity(state, req.body)
    identity["kubernetesAuth"] = {"token": req.body["token"]}
    return 200, {"ok": True}


def token_record_from_body(state, req):
    issues = Issues()
    token = field(req.body, "accessToken", issues, required=True)
    issues.raise_if_any()
    entry = state.tokens.get(token)
    record = state.token_records.get(entry["record"]) if entry else None
    if record is None or record["revoked"] or record.get("deleted"):
        raise ApiError(401, "No identity access token found", "UnauthorizedError")
    return record


def refuse_renewal(record, message):
    """identity-access-token-service.ts `renewAccessToken` (Infisical/infisical backend/src/services/
    identity-access-token/): a renewal refused for its TTL or max TTL deletes the token record
    (`identityAccessTokenDAL.deleteById`), so the old token stops working at once (events §7)."""
    record["deleted"] = True
    raise ApiError(401, message, "UnauthorizedError")


def route_token_renew(state, req):
    """§3.2 renew: new token string, same record; 401 past TTL or (would be) past max TTL, and the
    record is gone after such a refusal."""
    record = token_record_from_body(state, req)
    now = time.time()
    ttl, max_ttl = record["ttl"], record["maxTTL"]
    if record["forcedExpired"] or (ttl > 0 and now > (record["lastRenewedAt"] or record["createdAt"]) + ttl):
        refuse_renewal(record, "Failed to renew MI access token due to TTL expiration")
    if max_ttl > 0:
        max_expiry = record["createdAt"] + max_ttl
        if now > max_expiry:
            refuse_renewal(record, "Failed to renew MI access token due to Max TTL expiration")
        if now + ttl > max_expiry:
            refuse_renewal(record, "Failed to renew MI access token past its Max TTL expiration")
    record["lastRenewedAt"] = now
    identity = state.identities[record["identityId"]]
    return 200, login_response(identity, state.issue_token(record), record)


def route_token_revoke(state, req):
    record = token_record_from_body(state, req)
    record["revoked"] = True
    return 200, {"message": "Successfully revoked access token"}


# ---------------------------------------------------------------------------
# Projects (§7)
# ---------------------------------------------------------------------------

def public_project(project):
    result = {k: v for k, v in project.items() if k not in ("members", "environments")}
    result["_id"] = project["id"]
    result["environments"] = [{"id": e["id"], "name": e["name"], "slug": e["slug"]}
                              for e in project["environments"]]
    return result


def visible_projects(state, req):
    return [public_project(p) for p in state.projects.values() if req.actor["identityId"] in p["members"]]


def route_list_projects(state, req):
    """events-and-limits §3 (project-router.ts `listProjects`): `includeRoles` "true"|"false",
    `type` one of PROJECT_TYPES or absent (then every type); other values are 422. With the option
    `ignoreProjectTypeQuery` this plays an older server that has no `type` filter."""
    authenticate(state, req)
    issues = Issues()
    include_roles = bool_query(req.query, "includeRoles", issues)
    project_type = None
    if not state.options["ignoreProjectTypeQuery"]:
        project_type = enum_field(req.query, "type", PROJECT_TYPES, issues, None)
    issues.raise_if_any()
    projects = [p for p in visible_projects(state, req) if project_type is None or p["type"] == project_type]
    if include_roles:
        for project in projects:
            project["roles"] = []      # the project's own roles: none are modelled here
    return 200, {"projects": projects}


def route_list_workspaces(state, req):
    authenticate(state, req)
    return 200, {"workspaces": visible_projects(state, req)}


def route_get_project(state, req):
    authenticate(state, req)
    return 200, {"project": public_project(project_by_id(state, req, req.params["id"]))}


def route_get_workspace(state, req):
    authenticate(state, req)
    return 200, {"workspace": public_project(project_by_id(state, req, req.params["id"]))}


def slugify(value):
    """@sindresorhus/slugify 1.x with {lowercase: true} (decamelize on, separator "-"), as the
    server's `slugSchema` calls it (backend/src/server/lib/schemas.ts). Transliteration is left
    out: it only matters for non-ASCII input, which can never equal the ASCII result anyway."""
    value = re.sub(r"([A-Z]{2,})([0-9]+)", r"\1 \2", value)
    value = re.sub(r"([a-z0-9]+)([A-Z]{2,})", r"\1 \2", value)
    value = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", value)
    value = re.sub(r"([A-Z]+)([A-Z][a-z0-9]+)", r"\1 \2", value)
    value = re.sub(r"[^a-z0-9]+", "-", value.lower())
    return re.sub(r"^-|-$", "", re.sub(r"-{2,}", "-", value))


def slug_param(value, issues, name="slug", max_length=64):
    """`slugSchema({max: 64})`: trimmed, 1-64 characters, equal to its slugify(). In effect only
    `[a-z0-9]+(-[a-z0-9]+)*` passes; the issues are zod's, under `path: [name]` (events §4)."""
    value = js_trim(value)
    if len(value) < 1:
        issues.add("too_small", name, "Slug field must be at least 1 lowercase character", minimum=1,
                   type="string", inclusive=True, exact=False)
    if len(value) > max_length:
        issues.add("too_big", name, f"Slug field must be at most {max_length} lowercase characters",
                   maximum=max_length, type="string", inclusive=True, exact=False)
    if slugify(value) != value:
        issues.items.append({"code": "custom",
                             "message": "Slug field can only contain lowercase letters, numbers, and hyphens",
                             "path": [name]})
    return value


def route_get_project_by_slug(state, req):
    """§7 / events-and-limits §4: auth first, then the slug schema (422), then 404 or the project."""
    authenticate(state, req)
    issues = Issues()
    slug = slug_param(req.params["slug"], issues)
    issues.raise_if_any()
    return 200, public_project(project_by_slug(state, req, slug))   # §7: unwrapped


# ---------------------------------------------------------------------------
# Secrets (§4, §5)
# ---------------------------------------------------------------------------

def secret_path_of(source, issues, name="secretPath"):
    """§5: trimmed, default `/`, one trailing `/` removed; bad segment chars ⇒ 400."""
    path = field(source, name, issues, default="/")
    if path is None:
        return "/"
    path = remove_trailing_slash(path)
    for segment in path.split("/"):
        if segment and not SECRET_PATH_SEGMENT.match(segment):
            raise bad_request("Invalid secret path. Only alphanumeric characters, dashes, and underscores "
                              "are allowed.")
    return path


def resolve_folder_for_secret(state, project, env_slug, path):
    """Folder for get/create/update/delete; missing env or folder ⇒ 404 of §4.3."""
    environment = state.environment(project, env_slug)
    folder = state.folder_at(environment, path) if environment else None
    if folder is None:
        raise not_found(f"Folder with path '{path}' in environment with slug '{env_slug}' not found")
    return environment, folder


def read_project(state, req, source):
    """List/get: `workspaceId` wins over `workspaceSlug` (§4.2, §7)."""
    workspace_id = js_trim(source.get("workspaceId") or "")
    workspace_slug = js_trim(source.get("workspaceSlug") or "")
    if workspace_id:
        return project_by_id(state, req, workspace_id, SECRET_MANAGER)
    if workspace_slug:
        return project_by_slug(state, req, workspace_slug, SECRET_MANAGER)
    return None


def write_project(state, req, body):
    """Writes: `workspaceId` or `projectSlug` — not workspaceSlug (§4.4)."""
    workspace_id = js_trim(body.get("workspaceId") or "") if isinstance(body.get("workspaceId"), str) else ""
    project_slug = js_trim(body.get("projectSlug") or "") if isinstance(body.get("projectSlug"), str) else ""
    if workspace_id:
        return project_by_id(state, req, workspace_id, SECRET_MANAGER)
    if project_slug:
        return project_by_slug(state, req, project_slug, SECRET_MANAGER)
    raise bad_request("You must provide projectSlug or workspaceId")


def secret_base(state, secret, value=None, comment=None, version=None):
    """§4.1 base fields."""
    return {
        "id": secret["id"], "_id": secret["id"], "workspace": secret["projectId"],
        "environment": secret["envSlug"], "version": secret["version"] if version is None else version,
        "type": secret["type"], "secretKey": secret["key"],
        "secretValue": secret["value"] if value is None else value,
        "secretComment": secret["comment"] if comment is None else comment,
        "secretReminderNote": secret["secretReminderNote"],
        "secretReminderRepeatDays": secret["secretReminderRepeatDays"],
        "skipMultilineEncoding": secret["skipMultilineEncoding"],
        "createdAt": secret["createdAt"], "updatedAt": secret["updatedAt"],
        "actor": None, "isRotatedSecret": False, "rotationId": None,
    }


def secret_tags(secret):
    return [{"id": t, "slug": t, "color": None, "name": t} for t in secret["tagIds"]]


def secret_metadata(secret):
    """`secretMetadata` as list/get show it: [{key, value, isEncrypted}] (nothing is encrypted here)."""
    return [{"key": m["key"], "value": m.get("value", ""), "isEncrypted": False} for m in secret["metadata"]]


def secret_for_list(state, secret, value):
    item = secret_base(state, secret, value=value)
    item.update({"secretPath": state.folder_path(state.folders[secret["folderId"]]), "secretValueHidden": False,
                 "tags": secret_tags(secret), "secretMetadata": secret_metadata(secret)})
    return item


def secret_for_import(state, secret, value):
    item = secret_base(state, secret, value=value)
    del item["createdAt"], item["updatedAt"]
    item.update({"secretValueHidden": False, "secretMetadata": secret_metadata(secret)})
    return item


# secret-reference-fns.ts (Infisical/infisical backend/src/services/secret-v2-bridge/):
# INTERPOLATION_PATTERN_STRING, and getAllSecretReferences' split into local and nested references.
REFERENCE = re.compile(r"\$\{([a-zA-Z0-9_.\-]+)\}")


def nested_reference(text):
    """`env.a.b.KEY` → (env, "/a/b", KEY) as getAllSecretReferences builds it (path.join("/", …))."""
    environment, *rest = text.split(".")
    return environment, posixpath.normpath(posixpath.join("/", *rest[:-1])), rest[-1]


def secret_references(value):
    """(local keys, nested (environment, path, key) triples) referenced by a value."""
    found = REFERENCE.findall(value or "")
    return [r for r in found if "." not in r], [nested_reference(r) for r in found if "." in r]


def reference_text(environment, path, key):
    """`${env.a.b.KEY}` for a folder path, `${env.KEY}` for the root."""
    path_part = "" if path == "/" else "." + path[1:].replace("/", ".")
    return "${" + environment + path_part + "." + key + "}"


def project_secrets(state, project_id):
    return [s for s in state.secrets if s["projectId"] == project_id]


def rewrite_value(state, secret, new_value):
    if new_value != secret["value"]:
        secret["value"] = new_value
        state.touch(secret)      # the real server writes a new version of each secret it rewrites


# ---------------------------------------------------------------------------
# Read permissions (POST /__test__/permissions) and reference expansion
# ---------------------------------------------------------------------------

HIDDEN_VALUE = "<hidden-by-infisical>"          # §4.1 (INFISICAL_SECRET_VALUE_HIDDEN_MASK)
READ_ACTIONS = ("read", "describeSecret", "readValue")
ALL_SECRET_ACTIONS = ["read", "describeSecret", "readValue", "create", "edit", "delete"]


def path_matches(pattern, path):
    """An exact folder path, or a glob ending in `/**` (that folder and all below it, as picomatch
    matches `$glob` conditions on `secretPath`)."""
    if pattern.endswith("/**"):
        base = pattern[:-3] or "/"
        return base == "/" or path == base or path.startswith(base + "/")
    return remove_trailing_slash(pattern) == path


def denying_rule(state, actor, project, environment, path, action):
    """The caller's deny rule that takes `action` ("describeSecret" or "readValue") away for secrets
    in `environment` at `path`, or None. A rule denying "read" takes both (the legacy action)."""
    for rule in state.permissions:
        if rule["identityId"] == actor["identityId"] and rule["projectId"] == project["id"] \
                and rule["environment"] == environment and path_matches(rule["secretPath"], path) \
                and (action in rule["deny"] or "read" in rule["deny"]):
            return rule
    return None


def can(state, actor, project, environment, path, action):
    return denying_rule(state, actor, project, environment, path, action) is None


def permission_denied(state, actor, project, action):
    """A CASL ForbiddenError as the error handler shapes it (server/plugins/error-handler.ts):
    403 `PermissionDenied` "You are not allowed to <action> on secrets", details = the rules for that
    action (here: the caller's deny rules, then the allow-all role it stands against)."""
    details = [{"action": list(rule["deny"]), "inverted": True, "subject": "secrets",
                "conditions": {"environment": {"$eq": rule["environment"]},
                               "secretPath": {"$glob": rule["secretPath"]}}}
               for rule in reversed(state.permissions)
               if rule["identityId"] == actor["identityId"] and rule["projectId"] == project["id"]
               and (action in rule["deny"] or "read" in rule["deny"])]
    details.append({"action": ALL_SECRET_ACTIONS, "inverted": False, "subject": "secrets"})
    return ApiError(403, f"You are not allowed to {action} on secrets", "PermissionDenied", details=details)


def format_multi_value_env(value):
    """secret-reference-fns.ts formatMultiValueEnv: an expansion of a secret with
    skipMultilineEncoding that spans lines is quoted, its newlines written as `\n`."""
    if not value:
        return ""
    return '"' + value.replace("\n", "\\n") + '"' if "\n" in value else value


# What an expansion recognises as a reference. Infisical's own API tests
# (tests/suites/secretmanager/secrets/reference_test.go, TestSecretReference_Expand) pin the newest
# server: `${MY KEY}` resolves a name with a space, `${ KEY }` stays literal (no trimming), a missing
# secret, folder or environment stays literal, an existing empty value expands to "". (The Node
# expander at secret-reference-fns.ts 58d2a53 matched only [a-zA-Z0-9-_.] and left empty values.)
EXPANSION_REFERENCE = re.compile(r"\$\{([^{}]+)\}")


def expand_secret(state, actor, project, value, environment, path, key, skip_multiline=None):
    """expandSecretReferencesFactory / recursivelyExpandSecret of secret-reference-fns.ts
    (Infisical/infisical backend/src/services/secret-v2-bridge/): `${KEY}` is looked up in the folder
    of the value that holds it, `${env.a.b.KEY}` in that environment and path; references are
    followed up to depth 10 (a 12-long chain resolves, a 13-long one does not), not around a cycle.
    Before each look-up the caller's readValue permission there is checked: denied ⇒
    ForbiddenRequestError (403 `ForbiddenError`) naming both secrets, whether the target exists or not."""
    if not value or not EXPANSION_REFERENCE.search(value):
        return value
    expanded = value
    stack = [(value, environment, path, 0, {(environment, path, key)})]
    while stack:
        current, env, folder_path, depth, visited = stack.pop()
        if depth > 10:
            continue
        for match in EXPANSION_REFERENCE.finditer(current or ""):
            entities = match.group(1).split(".")
            if len(entities) == 1:
                ref_env, ref_path, ref_key = env, folder_path, entities[0]
            else:
                ref_env, ref_path, ref_key = nested_reference(match.group(1))
            ref_environment = state.environment(project, ref_env)
            ref_folder = state.folder_at(ref_environment, ref_path) if ref_environment else None
            target = state.find_secret(ref_folder["id"], ref_key, "shared", None) if ref_folder else None
            ref_value = target["value"] if target else ""
            if not can(state, actor, project, ref_env, ref_path, "readValue"):
                raise ApiError(403, f"You do not have permission to read secret '{ref_key}' in environment "
                                    f"'{ref_env}' at path '{ref_path}', which is referenced by secret '{key}' in "
                                    f"environment '{environment}' at path '{path}'.", "ForbiddenError")
            ref_id = (ref_env, ref_path, ref_key)
            if EXPANSION_REFERENCE.search(ref_value) and ref_id not in visited:
                stack.append((ref_value, ref_env, ref_path, depth + 1, visited | {ref_id}))
            if target is not None:
                expanded = expanded.replace(match.group(0), ref_value)
    return format_multi_value_env(expanded) if skip_multiline else expanded


def list_imports(state, actor, project, folder, view):
    """fnSecretsV2FromImports (secret-import-fns.ts): each import's secrets the caller may see
    (describe, and readValue when values are shown), values hidden unless shown; a list always expands
    them, whatever `expandSecretReferences` says, and an expansion that fails leaves the value as
    stored (the failures are settled, not thrown)."""
    result = []
    for imp in [i for i in state.imports if i["folderId"] == folder["id"]]:
        environment = state.environment(project, imp["importEnv"])
        source = state.folder_at(environment, imp["importPath"]) if environment else None
        secrets = []
        if source is not None:
            for secret in state.secrets_in(source["id"], "shared"):
                if not can(state, actor, project, imp["importEnv"], imp["importPath"], "describeSecret") or \
                        (view and not can(state, actor, project, imp["importEnv"], imp["importPath"], "readValue")):
                    continue
                value = secret["value"] if view else HIDDEN_VALUE
                if view:
                    try:
                        value = expand_secret(state, actor, project, value, imp["importEnv"], imp["importPath"],
                                              secret["key"], secret["skipMultilineEncoding"])
                    except ApiError:
                        pass
                item = secret_for_import(state, secret, value)
                item["secretValueHidden"] = not view
                secrets.append(item)
        result.append({"secretPath": imp["importPath"], "environment": imp["importEnv"],
                       "folderId": source["id"] if source else None, "secrets": secrets})
    return result


def route_list_secrets(state, req):
    """§4.2 list, as secret-v2-bridge-service.ts `getSecrets`: secrets the caller may not describe
    are left out; with values shown, a secret of the listed folder whose value it may not read is
    a 403 PermissionDenied (readValue), one of a subfolder is left out; then references are
    expanded, and any expansion refused makes the whole list a 403 `ForbiddenError` "Failed to
    expand one or more secret references" with each refusal in `details`."""
    authenticate(state, req)
    issues = Issues()
    recursive = bool_query(req.query, "recursive", issues)
    include_imports = bool_query(req.query, "include_imports", issues)
    expand = bool_query(req.query, "expandSecretReferences", issues)
    view = bool_query(req.query, "viewSecretValue", issues, default=True)
    issues.raise_if_any()
    path = secret_path_of(req.query, issues)
    project = read_project(state, req, req.query)
    if project is None:
        raise bad_request("You must provide projectSlug or workspaceId")
    env_slug = js_trim(req.query.get("environment") or "")
    if not env_slug:
        raise bad_request("Missing workspace id or environment")
    environment = state.environment(project, env_slug)
    folder = state.folder_at(environment, path) if environment else None
    if folder is None:
        raise not_found(f"Folder with path '{path}' in environment '{env_slug}' was not found. Please ensure "
                        "the environment slug and secret path is correct.", "SecretPathNotFound")
    actor, user_id = req.actor, req.actor["userId"]
    folders = state.descendants(folder) if recursive else [folder]
    listed = []
    for f in folders:
        folder_path = state.folder_path(f)
        for secret in state.secrets_in(f["id"], user_id=user_id):
            if not can(state, actor, project, env_slug, folder_path, "describeSecret"):
                continue
            if view and not can(state, actor, project, env_slug, folder_path, "readValue"):
                if folder_path != path:
                    continue
                raise permission_denied(state, actor, project, "readValue")
            hidden = not view and not (secret["type"] == "personal" and secret["userId"] == user_id)
            item = secret_for_list(state, secret, HIDDEN_VALUE if hidden else secret["value"])
            item["secretValueHidden"] = hidden
            listed.append((secret, folder_path, item))
    if expand:
        refusals = []
        for secret, folder_path, item in listed:
            try:
                item["secretValue"] = expand_secret(state, actor, project, item["secretValue"], env_slug,
                                                    folder_path, secret["key"], secret["skipMultilineEncoding"])
            except ApiError as refusal:
                refusals.append(refusal.message)
        if refusals:
            raise ApiError(403, "Failed to expand one or more secret references", "ForbiddenError",
                           details=refusals)
    imports = list_imports(state, actor, project, folder, view) if include_imports else []
    return 200, {"secrets": [item for _, _, item in listed], "imports": imports}


def route_get_secret(state, req):
    """§4.3 get; §4.8: exact `type`, personal only for the calling user. As `getSecretByName`: the
    caller must be able to describe secrets of the folder (else 403 PermissionDenied, even for a
    missing name); imports are searched among what it may describe; the expansion's refusal is the
    answer (403 `ForbiddenError`); then, values shown, a value it may not read is 403
    `ForbiddenReadSecretError`."""
    authenticate(state, req)
    issues = Issues()
    include_imports = bool_query(req.query, "include_imports", issues)
    expand = bool_query(req.query, "expandSecretReferences", issues)
    view = bool_query(req.query, "viewSecretValue", issues, default=True)
    secret_type = enum_field(req.query, "type", ["shared", "personal"], issues, "shared")
    version = req.query.get("version")
    if version is not None:
        try:
            version = int(float(version))
        except ValueError:
            issues.add("invalid_type", "version", "Expected number, received nan", expected="number",
                       received="nan")
    issues.raise_if_any()
    path = secret_path_of(req.query, issues)
    env_slug = js_trim(req.query.get("environment") or "")
    if not env_slug:
        raise bad_request("Missing environment")
    project = read_project(state, req, req.query)
    if project is None:
        raise bad_request("You must provide workspaceSlug or workspaceId")
    name = js_trim(req.params["secretName"])
    environment, folder = resolve_folder_for_secret(state, project, env_slug, path)
    actor = req.actor
    user_id = actor["userId"] if actor["actorType"] == "user" else None
    secret = state.find_secret(folder["id"], name, secret_type, user_id)
    if not can(state, actor, project, env_slug, path, "describeSecret"):
        raise permission_denied(state, actor, project, "describeSecret")
    if secret is None and include_imports and secret_type == "shared":
        for imp in reversed([i for i in state.imports if i["folderId"] == folder["id"]]):   # last import first
            imp_env = state.environment(project, imp["importEnv"])
            imp_folder = state.folder_at(imp_env, imp["importPath"]) if imp_env else None
            found = state.find_secret(imp_folder["id"], name, "shared", None) if imp_folder else None
            if found and can(state, actor, project, imp["importEnv"], imp["importPath"], "describeSecret"):
                return 200, {"secret": imported_secret(state, actor, project, found, imp, view, expand)}
    if secret is None:
        raise not_found(f"Secret with name '{name}' not found")
    value, comment, shown_version = secret["value"], secret["comment"], secret["version"]
    item_source = secret
    if version is not None and version != secret["version"]:
        old = next((h for h in secret["history"] if h["version"] == version), None)
        if old is None:
            raise not_found(f"Secret with name '{name}' and version {version} not found")
        value, comment, shown_version = old["value"], old["comment"], old["version"]
        item_source = {**secret, "updatedAt": old["updatedAt"]}
    if expand and view:
        value = expand_secret(state, actor, project, value, env_slug, path, secret["key"],
                              secret["skipMultilineEncoding"])
    if view and secret_type != "personal" and not can(state, actor, project, env_slug, path, "readValue"):
        raise ApiError(403, f"You do not have permission to view secret value on secret with name '{name}'",
                       "ForbiddenReadSecretError")
    item = secret_base(state, item_source, value=value if view else HIDDEN_VALUE, comment=comment,
                       version=shown_version)
    item.update({"secretValueHidden": not view, "secretPath": path,
                 "tags": secret_tags(secret), "secretMetadata": secret_metadata(secret)})
    return 200, {"secret": item}


def imported_secret(state, actor, project, secret, imp, view, expand):
    """A get answered from an import: readValue checked there (403 `ForbiddenReadSecretError` "… secret
    import value …"), the expansion's refusal swallowed as in fnSecretsV2FromImports."""
    value = secret["value"] if view else HIDDEN_VALUE
    if view and expand:
        try:
            value = expand_secret(state, actor, project, value, imp["importEnv"], imp["importPath"], secret["key"],
                                  secret["skipMultilineEncoding"])
        except ApiError:
            pass
    if view and not can(state, actor, project, imp["importEnv"], imp["importPath"], "readValue"):
        raise ApiError(403, "You do not have permission to view secret import value on secret with name "
                            f"'{secret['key']}'", "ForbiddenReadSecretError")
    item = secret_base(state, secret, value=value)
    item.update({"secretValueHidden": not view, "secretPath": imp["importPath"], "tags": secret_tags(secret),
                 "secretMetadata": secret_metadata(secret)})
    return item


def check_secret_name_chars(name, issues, field_name):
    """§5: trimmed, ≥1 char, no ':' or '/' (422). The exact issue messages are [U]."""
    if name == "":
        issues.add("too_small", field_name, "String must contain at least 1 character(s)", minimum=1,
                   type="string", inclusive=True, exact=False)
    elif ":" in name:
        issues.add("custom", field_name, "Secret name cannot contain colon.")
    elif "/" in name:
        issues.add("custom", field_name, "Secret name cannot contain forward slash.")
    issues.raise_if_any()


def check_secret_name_rules(name, project):
    """§5: longer than the varchar(500) column fails; upper case if the project enforces it (400)."""
    if len(name) > 500:
        # §5: varchar(500), longer names fail in the database [U]
        raise ApiError(500, "Something went wrong", "InternalServerError")
    if project["autoCapitalization"] and name != name.upper():
        raise bad_request("Secret name must be in UPPERCASE per project requirements. You can disable this "
                          "setting in project settings.")


def write_common(state, req, issues, personal_verb):
    """Body fields shared by create/update/delete (§4.4–4.6)."""
    body = req.body
    env_slug = field(body, "environment", issues, required=True)
    secret_type = enum_field(body, "type", ["shared", "personal"], issues, "shared")
    issues.raise_if_any()
    path = secret_path_of(body, issues)
    issues.raise_if_any()
    project = write_project(state, req, body)
    if secret_type == "personal" and req.actor["actorType"] != "user":
        raise bad_request(f"Must be user to {personal_verb} personal secret")
    environment, folder = resolve_folder_for_secret(state, project, env_slug, path)
    user_id = req.actor["userId"] if secret_type == "personal" else None
    return project, environment, folder, secret_type, user_id


def optional_write_fields(body, issues):
    fields = {
        "skipMultilineEncoding": field(body, "skipMultilineEncoding", issues, kind="boolean"),
        "secretReminderNote": field(body, "secretReminderNote", issues, nullable=True, trim=False),
        "secretReminderRepeatDays": field(body, "secretReminderRepeatDays", issues, kind="number", nullable=True),
        "tagIds": field(body, "tagIds", issues, kind="array"),
        "secretMetadata": field(body, "secretMetadata", issues, kind="array"),
    }
    for index, entry in enumerate(fields["secretMetadata"] or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) \
                or not isinstance(entry.get("value", ""), str):
            issues.add("invalid_type", ["secretMetadata", index], "Expected {key: string, value: string}",
                       expected="object", received=js_type(entry))
    note = fields["secretReminderNote"]
    if isinstance(note, str) and len(note) > 1024:
        issues.add("too_big", "secretReminderNote", "String must contain at most 1024 character(s)",
                   maximum=1024, type="string", inclusive=True, exact=False)
    return fields


def validate_references(state, actor, project, environment, path, value):
    """$validateSecretReferences (secret-v2-bridge-service.ts): each referenced secret that exists must be
    one the caller may describe, else 403 PermissionDenied (describeSecret). Missing ones pass."""
    local, nested = secret_references(value)
    for ref_env, ref_path, ref_key in [(environment, path, k) for k in local] + nested:
        ref_environment = state.environment(project, ref_env)
        ref_folder = state.folder_at(ref_environment, ref_path) if ref_environment else None
        if ref_folder and state.find_secret(ref_folder["id"], ref_key, "shared", None) \
                and not can(state, actor, project, ref_env, ref_path, "describeSecret"):
            raise permission_denied(state, actor, project, "describeSecret")


def metadata_of(extra):
    entries = extra["secretMetadata"]
    return None if entries is None else [{"key": js_trim(m["key"]), "value": js_trim(m.get("value", ""))}
                                         for m in entries]


def route_create_secret(state, req):
    """§4.4 create."""
    authenticate(state, req)
    issues = Issues()
    body = req.body
    value = field(body, "secretValue", issues, required=True, trim=False)
    comment = field(body, "secretComment", issues, default="")
    extra = optional_write_fields(body, issues)
    name = js_trim(req.params["secretName"])
    check_secret_name_chars(name, issues, "secretName")
    project, environment, folder, secret_type, user_id = write_common(state, req, issues, "create")
    check_secret_name_rules(name, project)
    if state.find_secret(folder["id"], name, secret_type, user_id):
        # secret-v2-bridge-service.ts `createSecret`: the newest server says "Secret already exists";
        # older revisions (e.g. commit 0174d361) said "Secret already exist" (option legacyExistMessages).
        raise bad_request("Secret already exist" if state.options["legacyExistMessages"] else "Secret already exists")
    validate_references(state, req.actor, project, environment["slug"], state.folder_path(folder),
                        transform_value(value))
    secret = state.add_secret(project, environment, folder, name, transform_value(value), comment or "",
                              secret_type, user_id, extra["skipMultilineEncoding"], extra["secretReminderNote"],
                              extra["secretReminderRepeatDays"], extra["tagIds"], metadata_of(extra))
    return 200, {"secret": secret_base(state, secret)}   # §4.1: create adds no extra fields


def route_update_secret(state, req):
    """§4.5 update, with rename via newSecretName."""
    authenticate(state, req)
    issues = Issues()
    body = req.body
    value = field(body, "secretValue", issues, trim=False)
    comment = field(body, "secretComment", issues, trim=False)     # §4.5: comment not trimmed
    new_name = field(body, "newSecretName", issues)
    extra = optional_write_fields(body, issues)
    project, environment, folder, secret_type, user_id = write_common(state, req, issues, "update")
    name = js_trim(req.params["secretName"])
    secret = state.find_secret(folder["id"], name, secret_type, user_id)
    if secret is None:
        raise not_found(f"Secret with name {name} not found")       # §4.5: no quotes
    if new_name is not None:
        if new_name == "":
            raise bad_request("New secret name cannot be empty")
        check_secret_name_chars(new_name, issues, "newSecretName")
        check_secret_name_rules(new_name, project)
        if new_name != name and state.find_secret(folder["id"], new_name, secret_type, user_id):
            # `updateSecret`: "… already exists" in the newest server, "… already exist" in older ones.
            raise bad_request("Secret with the new name already " +
                              ("exist" if state.options["legacyExistMessages"] else "exists"))
    stored_value = transform_value(value) if value is not None else None
    if stored_value:
        validate_references(state, req.actor, project, environment["slug"], state.folder_path(folder),
                            stored_value)
    if stored_value is not None:
        secret["value"] = stored_value
    if comment is not None:
        secret["comment"] = comment
    if new_name is not None and new_name != name:
        rewrite_references(state, secret, name, new_name)
        secret["key"] = new_name
    for key in ("skipMultilineEncoding", "secretReminderNote", "secretReminderRepeatDays"):
        if key in body:
            secret[key] = extra[key]
    if extra["tagIds"] is not None:
        secret["tagIds"] = list(extra["tagIds"])
    if extra["secretMetadata"] is not None:
        secret["metadata"] = metadata_of(extra)
    state.touch(secret)
    # §4.5 response caveat: value and comment echo what was sent, "" when not sent.
    item = secret_base(state, secret, value=stored_value or "", comment=comment or "")
    item["secretValueHidden"] = False
    return 200, {"secret": item}


def rewrite_references(state, renamed, old, new):
    """§4.5, as the newest server's fnUpdateSecretLinkedReferences (secret-v2-bridge-fns.ts): a rename
    rewrites `${OLD}` in the other secrets of its folder and `${env.path.OLD}` pointing at it from
    anywhere in the project; each secret so changed gets a new version."""
    folder = state.folders[renamed["folderId"]]
    environment, path = renamed["envSlug"], state.folder_path(folder)
    for secret in project_secrets(state, renamed["projectId"]):
        if secret is renamed:
            continue
        local, nested = secret_references(secret["value"])
        value = secret["value"]
        if secret["folderId"] == renamed["folderId"] and old in local:
            value = value.replace("${" + old + "}", "${" + new + "}")
        if (environment, path, old) in nested:
            value = value.replace(reference_text(environment, path, old), reference_text(environment, path, new))
        rewrite_value(state, secret, value)


def route_delete_secret(state, req):
    """§4.6 delete."""
    authenticate(state, req)
    issues = Issues()
    project, environment, folder, secret_type, user_id = write_common(state, req, issues, "delete")
    name = js_trim(req.params["secretName"])
    secret = state.find_secret(folder["id"], name, secret_type, user_id)
    if secret is None:
        raise not_found("Secret not found")
    state.secrets.remove(secret)
    folder["lastSecretModified"] = now_iso()
    item = secret_base(state, secret)
    item["secretValueHidden"] = False
    return 200, {"secret": item}


# ---------------------------------------------------------------------------
# Move (events-and-limits §6)
# ---------------------------------------------------------------------------

def string_list_field(source, name, issues):
    values = field(source, name, issues, kind="array", required=True)
    for index, value in enumerate(values or []):
        if not isinstance(value, str):
            issues.add("invalid_type", [name, index], f"Expected string, received {js_type(value)}",
                       expected="string", received=js_type(value))
    return values


def move_folder(state, project, env_slug, path, which):
    environment = state.environment(project, env_slug)
    folder = state.folder_at(environment, path) if environment else None
    if folder is None:
        raise not_found(f"{which} folder with path '{path}' in environment with slug '{env_slug}' not found")
    return environment, folder


def route_move_secrets(state, req, project_key):
    """`POST /api/v4/secrets/move` (projectId) and `/api/v3/secrets/move` (projectSlug), as the v4 and
    v3 secret-router.ts `/move` routes, secret-service.ts `moveSecrets` and secret-v2-bridge-service.ts
    `moveSecrets` (Infisical/infisical, commit 0b1895fa): the ids are looked up among all shared secrets
    (not only the source folder's); a destination key with another value needs `shouldOverwrite`;
    new destination secrets are inserted (new id, version 1) with value, comment, multiline flag,
    reminder and metadata but no tags; overwritten ones are updated in place (their version + 1);
    the sources that are in the source folder are deleted with their history; references to the
    moved keys are rewritten (fnUpdateMovedSecretReferences)."""
    if not state.options["moveRoute"]:
        raise RouteNotFound(req.method, req.path)      # a server from before the route existed
    authenticate(state, req)
    issues, body = Issues(), req.body
    project_ref = field(body, project_key, issues, required=True)
    source_env = field(body, "sourceEnvironment", issues, required=True)
    source_path = remove_trailing_slash(field(body, "sourceSecretPath", issues, default="/") or "/")
    destination_env = field(body, "destinationEnvironment", issues, required=True)
    destination_path = remove_trailing_slash(field(body, "destinationSecretPath", issues, default="/") or "/")
    secret_ids = string_list_field(body, "secretIds", issues)
    overwrite = field(body, "shouldOverwrite", issues, kind="boolean", default=False)
    issues.raise_if_any()
    # secret-service.ts: by slug (v3) or id (v4); the message names the slug either way.
    project = state.project_by_slug(project_ref) if project_key == "projectSlug" else state.projects.get(project_ref)
    if project is None:
        slug = project_ref if project_key == "projectSlug" else "undefined"
        raise not_found(f"Project with slug '{slug}' not found")
    check_project_type(project, SECRET_MANAGER)
    member_project(state, req, project)
    _, source_folder = move_folder(state, project, source_env, source_path, "Source")
    destination_environment, destination_folder = move_folder(state, project, destination_env, destination_path,
                                                              "Destination")
    wanted = set(secret_ids)
    sources = [s for s in state.secrets if s["type"] == "shared" and s["id"] in wanted]
    if sources:   # checked per source secret (delete, readValue, describeSecret) at the body's source folder
        for action in ("readValue", "describeSecret"):
            if not can(state, req.actor, project, source_env, source_path, action):
                raise permission_denied(state, req.actor, project, action)
    if len(sources) != len(secret_ids):
        raise bad_request("Invalid secrets")
    at_destination = {}
    for secret in state.secrets:
        if secret["folderId"] == destination_folder["id"]:
            at_destination.setdefault(secret["key"], secret)
    created = [s for s in sources if s["key"] not in at_destination]
    updated = [s for s in sources if s["key"] in at_destination and at_destination[s["key"]]["value"] != s["value"]]
    if updated and not overwrite:
        raise bad_request("Failed to move secrets. The following secrets already exist in the destination: "
                          + ",".join(s["key"] for s in updated))
    if not created and not updated:
        raise bad_request("Selected secrets already exist in the destination.")
    destination_ids = {}
    for source in created:
        copy = state.add_secret(project, destination_environment, destination_folder, source["key"],
                                source["value"], source["comment"], source["type"], None,
                                source["skipMultilineEncoding"], source["secretReminderNote"],
                                source["secretReminderRepeatDays"], [], source["metadata"])
        destination_ids[source["key"]] = copy["id"]
    for source in updated:
        target = at_destination[source["key"]]
        if source["value"]:                     # an empty source value leaves the destination's
            target["value"] = source["value"]
        target["comment"] = source["comment"]
        target["skipMultilineEncoding"] = source["skipMultilineEncoding"]
        target["metadata"] = [dict(m) for m in source["metadata"]]
        state.touch(target)
    moved_out = [s for s in sources if s["folderId"] == source_folder["id"]]
    state.secrets = [s for s in state.secrets if not any(s is m for m in moved_out)]
    source_folder["lastSecretModified"] = now_iso()
    for source in sources:
        target_id = destination_ids.get(source["key"]) or at_destination[source["key"]]["id"]
        rewrite_moved_references(state, project, source_env, source_path, source_folder, destination_env,
                                 destination_path, destination_folder, source["key"], target_id)
    return 200, {"isSourceUpdated": True, "isDestinationUpdated": True}


def rewrite_moved_references(state, project, source_env, source_path, source_folder, destination_env,
                             destination_path, destination_folder, key, destination_id):
    """fnUpdateMovedSecretReferences (secret-v2-bridge-fns.ts): `${KEY}` in the source folder becomes
    `${dest.env.path.KEY}`; `${src.env.path.KEY}` anywhere in the project becomes `${KEY}` in the
    destination folder and `${dest.env.path.KEY}` elsewhere. Each rewritten secret gets a version."""
    new_nested = reference_text(destination_env, destination_path, key)
    for secret in project_secrets(state, project["id"]):
        if secret["folderId"] == source_folder["id"] and secret["id"] != destination_id \
                and key in secret_references(secret["value"])[0]:
            rewrite_value(state, secret, secret["value"].replace("${" + key + "}", new_nested))
    old_nested = reference_text(source_env, source_path, key)
    for secret in project_secrets(state, project["id"]):
        if (source_env, source_path, key) in secret_references(secret["value"])[1]:
            replacement = "${" + key + "}" if secret["folderId"] == destination_folder["id"] else new_nested
            rewrite_value(state, secret, secret["value"].replace(old_nested, replacement))


def route_move_secrets_v4(state, req):
    return route_move_secrets(state, req, "projectId")


def route_move_secrets_v3(state, req):
    return route_move_secrets(state, req, "projectSlug")


# ---------------------------------------------------------------------------
# Folders (§6)
# ---------------------------------------------------------------------------

def public_folder(state, folder, with_path=False):
    item = {k: v for k, v in folder.items() if not k.startswith("_")}
    if with_path:
        item["path"] = state.folder_path(folder)
    return item


def folder_context(state, req, source, project_key, issues, path_required=False):
    project_id = field(source, project_key, issues, required=True)
    env_slug = field(source, "environment", issues, required=True)
    issues.raise_if_any()
    # v1 accepts `directory` as an alias of `path` (§6).
    path_source = source if "path" in source or "directory" not in source else {"path": source["directory"]}
    path = secret_path_of(path_source, issues, "path")
    if not path.startswith("/"):
        path = "/" + path          # prefixWithSlash in the folder routes
    project = project_by_id(state, req, project_id, SECRET_MANAGER)
    environment = state.environment(project, env_slug)
    if environment is None:
        raise not_found(f"Environment with slug '{env_slug}' in project with ID {project_id} not found")
    return project, environment, path


def check_folder_name(name, issues):
    if name is not None and not SECRET_PATH_SEGMENT.match(name):
        issues.add("custom", "name", "Invalid folder name. Only alphanumeric characters, dashes, and "
                                     "underscores are allowed.")
    issues.raise_if_any()


def folders_list(state, req, project_key):
    authenticate(state, req)
    issues = Issues()
    project, environment, path = folder_context(state, req, req.query, project_key, issues)
    recursive = lenient_bool(req.query.get("recursive"), False)
    folder = state.folder_at(environment, path)
    if folder is None:
        return 200, {"folders": []}          # §6: nonexistent path ⇒ 200 []
    if not recursive:
        return 200, {"folders": [public_folder(state, f) for f in state.children(folder["id"])]}
    base = state.folder_path(folder)
    result = []
    for f in state.descendants(folder)[1:]:
        item = public_folder(state, f)
        full = state.folder_path(f)
        item["relativePath"] = full[len(base):] if base != "/" else full
        result.append(item)
    return 200, {"folders": result}


def folders_create(state, req, project_key):
    authenticate(state, req)
    issues = Issues()
    name = field(req.body, "name", issues, required=True)
    description = field(req.body, "description", issues, nullable=True, trim=False)
    check_folder_name(name, issues)
    project, environment, path = folder_context(state, req, req.body, project_key, issues)
    parent = state.make_folders(project, environment, path)      # §6: creates missing parents
    if state.child(parent["id"], name):
        raise bad_request(f"Folder with name '{name}' already exists in path '{path}'")
    folder = state._new_folder(environment["id"], project["id"], name, parent["id"], description)
    return 200, {"folder": public_folder(state, folder, with_path=True)}


def folders_update(state, req, project_key):
    authenticate(state, req)
    issues = Issues()
    name = field(req.body, "name", issues, required=True)
    description = field(req.body, "description", issues, nullable=True, trim=False)
    check_folder_name(name, issues)
    project, environment, path = folder_context(state, req, req.body, project_key, issues)
    parent = state.folder_at(environment, path)
    folder = state.folders.get(req.params["folderId"])
    if parent is None or folder is None or folder["parentId"] != parent["id"]:
        raise not_found(f"Folder with ID '{req.params['folderId']}' not found")
    other = state.child(parent["id"], name)
    if other is not None and other["id"] != folder["id"]:
        raise bad_request("Folder with specified name already exists")
    folder["name"] = name
    if "description" in req.body:
        folder["description"] = description
    folder["version"] += 1
    folder["updatedAt"] = now_iso()
    return 200, {"folder": public_folder(state, folder, with_path=True)}


def folders_delete(state, req, project_key, always_force):
    authenticate(state, req)
    issues = Issues()
    project, environment, path = folder_context(state, req, req.body, project_key, issues)
    force = always_force or lenient_bool(req.body.get("forceDelete"), False)
    parent = state.folder_at(environment, path)
    id_or_name = req.params["folderIdOrName"]
    folder = None
    if parent is not None:
        folder = next((f for f in state.children(parent["id"]) if id_or_name in (f["id"], f["name"])), None)
    if folder is None:
        raise not_found(f"Folder with path '{path}' in environment with slug '{environment['slug']}' not found")
    tree = state.descendants(folder)
    has_content = len(tree) > 1 or any(s["folderId"] == folder["id"] for s in state.secrets)
    if has_content and not force:
        raise bad_request(f'Cannot delete folder "{folder["name"]}" because it contains resources. '
                          "Use forceDelete=true to delete it.")
    state.delete_folder_tree(folder)
    return 200, {"folder": public_folder(state, folder)}


def route_v2_folders_list(state, req):
    return folders_list(state, req, "projectId")


def route_v2_folders_create(state, req):
    return folders_create(state, req, "projectId")


def route_v2_folders_update(state, req):
    return folders_update(state, req, "projectId")


def route_v2_folders_delete(state, req):
    return folders_delete(state, req, "projectId", always_force=False)


def route_v2_folders_get(state, req):
    authenticate(state, req)
    folder = state.folders.get(req.params["id"])
    if folder is None or folder["parentId"] is None:
        raise not_found(f"Folder with ID '{req.params['id']}' not found")
    project = project_by_id(state, req, folder["_projectId"], SECRET_MANAGER)
    environment = next(e for e in project["environments"] if e["id"] == folder["envId"])
    item = public_folder(state, folder, with_path=True)
    item["environment"] = {"envId": environment["id"], "envName": environment["name"],
                           "envSlug": environment["slug"]}
    item["projectId"] = project["id"]
    return 200, {"folder": item}


def route_v1_folders_list(state, req):
    return folders_list(state, req, "workspaceId")


def route_v1_folders_create(state, req):
    return folders_create(state, req, "workspaceId")


def route_v1_folders_update(state, req):
    return folders_update(state, req, "workspaceId")


def route_v1_folders_delete(state, req):
    return folders_delete(state, req, "workspaceId", always_force=True)   # §6: v1 always recursive


# ---------------------------------------------------------------------------
# Test-only controls under /__test__/ (no auth)
# ---------------------------------------------------------------------------

def control_reset(state, req):
    state.reset()
    return 200, {"ok": True}


def control_permissions(state, req):
    """POST adds a read-deny rule for an identity in a project: `{identityId, projectId | projectSlug,
    environment, secretPath (a folder path, or a glob ending in /**), deny: ["read" | "describeSecret" |
    "readValue", ...]}` ("read" = both). GET lists them, DELETE clears them (reset does too)."""
    if req.method == "GET":
        return 200, {"permissions": state.permissions}
    if req.method == "DELETE":
        state.permissions = []
        return 200, {"ok": True}
    body = req.body
    project = state.projects.get(body.get("projectId") or "") or state.project_by_slug(body.get("projectSlug") or "")
    if project is None:
        raise not_found("Project not found")
    deny = body.get("deny")
    if not isinstance(deny, list) or not deny or any(a not in READ_ACTIONS for a in deny):
        raise bad_request(f"deny must be a non-empty list of {', '.join(READ_ACTIONS)}")
    environment, secret_path = body.get("environment"), body.get("secretPath", "/")
    if not isinstance(environment, str) or not environment or not isinstance(secret_path, str) \
            or not secret_path.startswith("/"):
        raise bad_request("environment (a slug) and secretPath (starting with /) are required")
    if not isinstance(body.get("identityId"), str) or body["identityId"] not in state.identities:
        raise not_found("identity not found")
    rule = {"id": str(uuid.uuid4()), "identityId": body["identityId"], "projectId": project["id"],
            "environment": environment, "secretPath": secret_path, "deny": list(deny)}
    state.permissions.append(rule)
    return 200, rule


def control_options(state, req):
    """POST: sets some of DEFAULT_OPTIONS (booleans); GET: shows them. Reset restores the defaults."""
    if req.method == "POST":
        for name, value in req.body.items():
            if name not in DEFAULT_OPTIONS:
                raise bad_request(f"unknown option {name!r}; known: {', '.join(DEFAULT_OPTIONS)}")
            if not isinstance(value, bool):
                raise bad_request(f"option {name} must be a boolean")
        state.options.update(req.body)
    return 200, dict(state.options)


def control_add_identity(state, req):
    return 200, state.add_identity(req.body)


def control_add_project(state, req):
    return 200, public_project(state.add_project(req.body))


def control_project(state, body):
    project = state.projects.get(body.get("projectId") or body.get("workspaceId") or "") \
        or state.project_by_slug(body.get("projectSlug") or body.get("slug") or "")
    if project is None:
        raise not_found("Project not found")
    environment = state.environment(project, body.get("environment", "dev"))
    if environment is None:
        raise not_found("Environment not found")
    return project, environment


def control_add_secret(state, req):
    """Seeds a secret as given (no value transformation), creating folders as needed. Optional:
    `tags` (slugs), `secretMetadata` ([{key, value}]), `skipMultilineEncoding`, reminder fields."""
    body = req.body
    tags = body.get("tags") or []
    metadata = body.get("secretMetadata") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise bad_request("tags must be a list of tag slugs")
    if not isinstance(metadata, list) or not all(isinstance(m, dict) and isinstance(m.get("key"), str)
                                                 for m in metadata):
        raise bad_request("secretMetadata must be a list of {key, value}")
    project, environment = control_project(state, body)
    folder = state.make_folders(project, environment, body.get("secretPath", "/"))
    secret_type = body.get("type", "shared")
    user_id = body.get("userId")
    if secret_type == "personal" and not user_id:
        raise bad_request("personal secrets need a userId")
    existing = state.find_secret(folder["id"], body["secretKey"], secret_type, user_id)
    if existing:
        state.secrets.remove(existing)
    secret = state.add_secret(project, environment, folder, body["secretKey"], body.get("secretValue", ""),
                              body.get("secretComment", ""), secret_type, user_id,
                              body.get("skipMultilineEncoding"), body.get("secretReminderNote"),
                              body.get("secretReminderRepeatDays"), tags,
                              [{"key": m["key"], "value": m.get("value", "")} for m in metadata])
    return 200, {"secret": secret_for_list(state, secret, secret["value"])}


def control_add_import(state, req):
    body = req.body
    project, environment = control_project(state, body)
    folder = state.make_folders(project, environment, body.get("secretPath", "/"))
    imp = {"id": str(uuid.uuid4()), "folderId": folder["id"], "importEnv": body["importEnvironment"],
           "importPath": body.get("importPath", "/")}
    state.imports.append(imp)
    return 200, {"import": imp}


FAULT_ACTIONS = (None, "reset", "close", "truncate")


def control_add_fault(state, req):
    body = req.body
    action = body.get("action")
    if action not in FAULT_ACTIONS:
        raise bad_request(f"action must be one of reset, close, truncate (got {action!r})")
    fault = {"id": str(uuid.uuid4()), "method": (body.get("method") or "*").upper(), "route": body.get("route", "*"),
             "status": body.get("status"), "count": body.get("count", 1),
             "delaySeconds": float(body.get("delaySeconds", 0)), "body": body.get("body"),
             "headers": body.get("headers") or {}, "action": action,
             "processFirst": bool(body.get("processFirst", False))}
    state.faults.append(fault)
    return 200, fault


def control_clear_faults(state, req):
    state.faults = []
    return 200, {"ok": True}


def control_list_faults(state, req):
    return 200, {"faults": state.faults}


def control_requests(state, req):
    return 200, dict(state.request_counts)


def control_request_log(state, req):
    return 200, {"requests": state.request_log}


def control_clear_requests(state, req):
    state.request_counts = {}
    state.request_log = []
    return 200, {"ok": True}


def control_expire_tokens(state, req):
    return 200, {"expired": state.expire_tokens(req.body.get("identityId"))}


def control_tokens(state, req):
    """Every access token issued or seeded, so that a test can check none of them leaks."""
    return 200, {"tokens": sorted(state.tokens)}


def control_seed(state, req):
    """The state in `--seed` form: a server started with it has the same identities, projects,
    folders, secrets and imports (IDs of projects and identities kept; versions, folder IDs and
    tokens are new, as after a restore). Cloud-login settings are not included."""
    def env_slug(folder):
        project = state.projects[folder["_projectId"]]
        return next(e["slug"] for e in project["environments"] if e["id"] == folder["envId"])

    identities = []
    for identity in state.identities.values():
        spec = {k: identity[k] for k in ("identityId", "name", "clientId", "clientSecret", "accessTokenTTL",
                                         "accessTokenMaxTTL", "actorType") if identity.get(k) is not None}
        if identity.get("userId"):
            spec["userId"] = identity["userId"]
        spec.update({k: identity[k] for k, default in LOCKOUT_DEFAULTS.items() if identity[k] != default})
        static = [token for token, entry in state.tokens.items() if entry["exp"] is None
                  and state.token_records[entry["record"]]["identityId"] == identity["identityId"]
                  and state.token_records[entry["record"]]["ttl"] == 0]
        if static:
            spec["accessToken"] = static[0]
        identities.append(spec)
    projects = [{"id": p["id"], "slug": p["slug"], "name": p["name"], "members": sorted(p["members"]),
                 "autoCapitalization": p["autoCapitalization"], "type": p["type"],
                 "environments": [{"slug": e["slug"], "name": e["name"]} for e in p["environments"]]}
                for p in state.projects.values()]
    folders = [{"projectId": f["_projectId"], "environment": env_slug(f), "path": state.folder_path(f)}
               for f in state.folders.values() if f["parentId"] is not None]
    secrets = [{"projectId": s["projectId"], "environment": s["envSlug"],
                "secretPath": state.folder_path(state.folders[s["folderId"]]), "secretKey": s["key"],
                "secretValue": s["value"], "secretComment": s["comment"], "type": s["type"],
                **({"userId": s["userId"]} if s["userId"] else {}),
                **({"tags": s["tagIds"]} if s["tagIds"] else {}),
                **({"secretMetadata": s["metadata"]} if s["metadata"] else {}),
                **{k: s[k] for k in ("skipMultilineEncoding", "secretReminderNote", "secretReminderRepeatDays")
                   if s[k] is not None}} for s in state.secrets]
    imports = []
    for imp in state.imports:
        folder = state.folders[imp["folderId"]]
        imports.append({"projectId": folder["_projectId"], "environment": env_slug(folder),
                        "secretPath": state.folder_path(folder), "importEnvironment": imp["importEnv"],
                        "importPath": imp["importPath"]})
    return 200, {"identities": identities, "projects": projects, "folders": folders, "secrets": secrets,
                 "imports": imports}


def control_state(state, req):
    return 200, state.dump()


# ---------------------------------------------------------------------------
# Routing table
# ---------------------------------------------------------------------------

API_ROUTES = [
    ("POST", "/api/v1/auth/universal-auth/login", route_universal_auth_login),
    ("POST", "/api/v1/auth/aws-auth/login", route_aws_auth_login),
    ("POST", "/api/v1/auth/gcp-auth/login", route_gcp_auth_login),
    ("POST", "/api/v1/auth/azure-auth/login", route_azure_auth_login),
    ("POST", "/api/v1/auth/kubernetes-auth/login", route_kubernetes_auth_login),
    ("POST", "/api/v1/auth/oidc-auth/login", route_oidc_auth_login),
    ("POST", "/api/v1/auth/jwt-auth/login", route_jwt_auth_login),
    ("POST", "/api/v1/auth/token/renew", route_token_renew),
    ("POST", "/api/v1/auth/token/revoke", route_token_revoke),
    ("GET", "/api/v1/projects", route_list_projects),
    ("GET", "/api/v1/projects/slug/{slug}", route_get_project_by_slug),
    ("GET", "/api/v1/projects/{id}", route_get_project),
    ("GET", "/api/v1/workspace", route_list_workspaces),
    ("GET", "/api/v1/workspace/{id}", route_get_workspace),
    ("GET", "/api/v3/secrets/raw", route_list_secrets),
    ("GET", "/api/v3/secrets/raw/{secretName}", route_get_secret),
    ("POST", "/api/v3/secrets/raw/{secretName}", route_create_secret),
    ("PATCH", "/api/v3/secrets/raw/{secretName}", route_update_secret),
    ("DELETE", "/api/v3/secrets/raw/{secretName}", route_delete_secret),
    ("POST", "/api/v4/secrets/move", route_move_secrets_v4),
    ("POST", "/api/v3/secrets/move", route_move_secrets_v3),
    ("GET", "/api/v2/folders", route_v2_folders_list),
    ("POST", "/api/v2/folders", route_v2_folders_create),
    ("GET", "/api/v2/folders/{id}", route_v2_folders_get),
    ("PATCH", "/api/v2/folders/{folderId}", route_v2_folders_update),
    ("DELETE", "/api/v2/folders/{folderIdOrName}", route_v2_folders_delete),
    ("GET", "/api/v1/folders", route_v1_folders_list),
    ("POST", "/api/v1/folders", route_v1_folders_create),
    ("PATCH", "/api/v1/folders/{folderId}", route_v1_folders_update),
    ("DELETE", "/api/v1/folders/{folderIdOrName}", route_v1_folders_delete),
]

CONTROL_ROUTES = [
    ("POST", "/__test__/reset", control_reset),
    ("POST", "/__test__/options", control_options),
    ("POST", "/__test__/permissions", control_permissions),
    ("GET", "/__test__/permissions", control_permissions),
    ("DELETE", "/__test__/permissions", control_permissions),
    ("GET", "/__test__/options", control_options),
    ("POST", "/__test__/identities", control_add_identity),
    ("POST", "/__test__/client-secrets", control_client_secret),
    ("GET", "/__test__/lockouts", control_lockouts),
    ("POST", "/__test__/aws-auth", control_aws_auth),
    ("POST", "/__test__/gcp-auth", control_gcp_auth),
    ("POST", "/__test__/azure-auth", control_azure_auth),
    ("POST", "/__test__/kubernetes-auth", control_kubernetes_auth),
    ("POST", "/__test__/oidc-auth", control_oidc_auth),
    ("POST", "/__test__/jwt-auth", control_jwt_auth),
    ("POST", "/__test__/projects", control_add_project),
    ("POST", "/__test__/secrets", control_add_secret),
    ("POST", "/__test__/imports", control_add_import),
    ("POST", "/__test__/faults", control_add_fault),
    ("GET", "/__test__/faults", control_list_faults),
    ("DELETE", "/__test__/faults", control_clear_faults),
    ("GET", "/__test__/requests", control_requests),
    ("DELETE", "/__test__/requests", control_clear_requests),
    ("GET", "/__test__/requests/log", control_request_log),
    ("POST", "/__test__/tokens/expire", control_expire_tokens),
    ("GET", "/__test__/tokens", control_tokens),
    ("GET", "/__test__/seed", control_seed),
    ("GET", "/__test__/state", control_state),
]


def match_route(routes, method, path):
    """Returns (handler, params, template), or (None, None, template-or-None) for a path that
    exists under another method (Fastify answers 404 for both)."""
    segments = path.split("/")
    for route_method, template, handler in routes:
        parts = template.split("/")
        if len(parts) != len(segments):
            continue
        params = {}
        for part, segment in zip(parts, segments):
            if part.startswith("{") and part.endswith("}"):
                if segment == "":
                    break
                params[part[1:-1]] = unquote(segment)
            elif part != segment:
                break
        else:
            if route_method == method:
                return handler, params, template
    return None, None, None


# ---------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive
    server_version = "infisical-test-server"
    sys_version = ""

    def setup(self):
        super().setup()
        # Nagle plus delayed ACK costs 44 ms per request (swift-libfuse-notes §3).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.settimeout(300)

    def log_message(self, fmt, *args):
        pass   # we log one line per request ourselves, without queries or bodies

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_PUT(self):
        self.handle_any("PUT")

    def read_body(self):
        """Returns the raw body bytes, or raises ApiError(413) after discarding them."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data = self.rfile.read(size)
                self.rfile.readline()
                total += len(data)
                if total <= MAX_BODY_BYTES:
                    chunks.append(data)
            if total > MAX_BODY_BYTES:
                raise ApiError(413, "Request body is too large", "Payload Too Large")
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            # §1: Fastify's 1 MiB limit. Drain what a client may still be sending so it reads the answer.
            if length <= 64 * MAX_BODY_BYTES:
                remaining = length
                while remaining > 0:
                    data = self.rfile.read(min(remaining, 65536))
                    if not data:
                        break
                    remaining -= len(data)
            else:
                self.close_connection = True
            raise ApiError(413, "Request body is too large", "Payload Too Large")
        return self.rfile.read(length) if length else b""

    @staticmethod
    def parse_body(method, raw, content_type):
        if method == "GET" or not raw:
            return {}    # GET bodies (the Rust SDK sends JSON on GET) are tolerated and ignored
        content_type = (content_type or "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))   # §1
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Body is not valid JSON", "BadRequest")

    def handle_any(self, method):
        state = self.server.state
        arrived = time.time()     # the log's "time": when the request line was read
        req_id = new_req_id()
        split = urlsplit(self.path)
        path = split.path
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]          # Fastify ignoreTrailingSlash (§1)
        query = {}
        for key, value in parse_qsl(split.query, keep_blank_values=True):
            query.setdefault(key, value)
        status, body, extra_headers = 500, None, {}
        template = None
        action = None
        try:
            try:
                raw = self.read_body()
            except ValueError:
                raise ApiError(400, "Invalid Content-Length", "BadRequest")
            handler, params, template = match_route(CONTROL_ROUTES, method, path) \
                if path.startswith("/__test__/") else match_route(API_ROUTES, method, path)
            if handler is None or not path.startswith("/__test__/"):
                with state.lock:
                    key = f"{method} {template or path}"
                    state.request_counts[key] = state.request_counts.get(key, 0) + 1
                    fault = self.take_fault(state, method, template, path)
                if fault is not None:
                    action = fault["action"]
                    if action in ("reset", "close") and not fault["processFirst"]:
                        # The request is read and never carried out, and no answer comes.
                        if fault["delaySeconds"] > 0:
                            time.sleep(fault["delaySeconds"])
                        self.drop_connection(action)
                        print(f"{method} {path} {action}", file=sys.stderr, flush=True)
                        return
                    answered = self.apply_fault(fault)
                    if answered is not None:
                        status, body, extra_headers = answered
                        raise _Answered()
            if handler is None:
                raise RouteNotFound(method, self.path)
            parsed = self.parse_body(method, raw, self.headers.get("Content-Type"))
            if not path.startswith("/__test__/"):
                self.record(state, method, template, query, raw, parsed, arrived)
            request = Request(method, path, query, parsed, self.headers, params, template)
            with state.lock:
                status, body = handler(state, request)
        except _Answered:
            pass
        except ApiError as error:
            status, body, extra_headers = error.status, error.body(req_id), error.headers
        except Exception as error:   # a bug here should look like the server's 500, and be visible
            print(f"internal error: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            status, body = 500, ApiError(500, "Something went wrong").body(req_id)
        if action in ("reset", "close"):
            # processFirst: the request was carried out; only its answer is lost.
            self.drop_connection(action)
            print(f"{method} {path} {status} then {action}", file=sys.stderr, flush=True)
            return
        self.send_json(status, body, extra_headers, truncate=action == "truncate")
        print(f"{method} {path} {status}{' truncated' if action == 'truncate' else ''}", file=sys.stderr, flush=True)

    def drop_connection(self, action):
        """Ends the connection with no answer: "reset" aborts it (TCP RST, as a crashed proxy or a
        stateful firewall does), "close" closes it cleanly (FIN: the client reads an empty reply)."""
        self.close_connection = True
        try:
            if action == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                os.close(self.connection.detach())    # no FIN first: socketserver's shutdown would send one
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def record(self, state, method, template, query, raw, parsed, arrived):
        """Remembers the shape of a request for tests: query (no secrets travel there), which
        body keys were sent (never their values), whether a GET carried a body, and when it came."""
        body_keys = None
        if isinstance(parsed, dict) and parsed:
            body_keys = sorted(parsed)
        elif method == "GET" and raw:
            try:
                body_keys = sorted(json.loads(raw))
            except (ValueError, TypeError):
                body_keys = ["<unparsed>"]
        with state.lock:
            state.request_log.append({"method": method, "route": template, "query": dict(query),
                                      "time": arrived, "bodyKeys": body_keys,
                                      "contentType": self.headers.get("Content-Type"),
                                      "userAgent": self.headers.get("User-Agent")})
            del state.request_log[:-500]

    @staticmethod
    def take_fault(state, method, template, path):
        for fault in state.faults:
            if fault["method"] not in ("*", method):
                continue
            if fault["route"] not in ("*", template, path):
                continue
            count = fault["count"]
            if count is not None and count > 0:
                fault["count"] = count - 1
                if fault["count"] == 0:
                    state.faults.remove(fault)
            return dict(fault)
        return None

    @staticmethod
    def apply_fault(fault):
        """Sleeps `delaySeconds`, then answers `status` (with `body`/`headers`) if given;
        a fault without a status only delays the real answer (a "hang" of N seconds)."""
        if fault["delaySeconds"] > 0:
            time.sleep(fault["delaySeconds"])
        if not fault["status"]:
            return None
        status = int(fault["status"])
        headers = {k.lower(): str(v) for k, v in fault["headers"].items()}
        body = fault["body"]
        if body is None:
            if status == 429:
                # §8: the message carries the wait in seconds
                wait = headers.get("retry-after", "60")
                body = ApiError(429, f"Rate limit exceeded. Please try again in {wait} seconds",
                                "RateLimitExceeded").body(new_req_id())
            elif status >= 500:
                body = ApiError(status, "Something went wrong").body(new_req_id())
            else:
                body = ApiError(status, "Injected fault").body(new_req_id())
        return status, body, headers

    def send_json(self, status, body, extra_headers, truncate=False):
        if isinstance(body, (bytes, bytearray)):
            payload, content_type = bytes(body), "application/octet-stream"
        elif isinstance(body, str):
            payload, content_type = body.encode(), "text/plain; charset=utf-8"
        else:
            payload, content_type = json.dumps(body).encode(), "application/json; charset=utf-8"
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra_headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if truncate:
                # The full Content-Length was promised; half the body comes, then the connection ends.
                self.wfile.write(payload[:len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True


class _Answered(Exception):
    """A fault already chose the answer."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024      # the default 5 drops SYNs under bursts: 1 s retransmit stalls

    def __init__(self, address, state, tls_context=None):
        self.state = state
        self.tls_context = tls_context
        super().__init__(address, Handler)

    def get_request(self):
        sock, address = super().get_request()
        if self.tls_context is not None:
            # The handshake runs in the request thread (first read), never in the accept loop.
            sock = self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError)):
            print(f"connection error: {type(error).__name__}: {error}", file=sys.stderr, flush=True)


def load_seed(state, path):
    with open(path, encoding="utf-8") as handle:
        seed = json.load(handle)
    with state.lock:
        for identity in seed.get("identities", []):
            state.add_identity(identity)
        for project in seed.get("projects", []):
            state.add_project(project)
        for folder in seed.get("folders", []):
            project, environment = control_project(state, folder)
            state.make_folders(project, environment, folder.get("path", "/"))
        for secret in seed.get("secrets", []):
            control_add_secret(state, Request("POST", "", {}, secret, {}, {}, None))
        for imp in seed.get("imports", []):
            control_add_import(state, Request("POST", "", {}, imp, {}, {}, None))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--seed")
    args = parser.parse_args(argv)

    state = State()
    if args.seed:
        load_seed(state, args.seed)
    tls_context = None
    if args.tls_cert:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    server = Server((args.host, args.port), state, tls_context)

    def remove_temp_files():
        for path in state.temp_files:
            try:
                os.unlink(path)
            except OSError:
                pass

    serve_until_signalled(server, remove_temp_files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
