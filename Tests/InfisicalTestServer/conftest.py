"""Fixtures for the Infisical test server's conformance tests.

`server` starts infisical_test_server.py on 127.0.0.1, port 0, as a
subprocess (killed at the end whatever happens); `world` resets it and seeds
one machine identity and one project it is a member of. `Api` talks plain
HTTP(S) to it with bounded timeouts. Every test is also bounded by an alarm.
"""

import http.client
import json
import os
import select
import signal
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, quote

import pytest

HERE = Path(__file__).resolve().parent
SERVER = HERE / "infisical_test_server.py"
TEST_TIMEOUT_SECONDS = 60

# Traffic stays on loopback: no proxy may catch 127.0.0.1.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


class RunningServer:
    def __init__(self, process, base_url):
        self.process = process
        self.base_url = base_url
        self.port = int(base_url.rsplit(":", 1)[1])


def start_server(*extra_args, scheme="http", timeout=10):
    """Starts the server and reads its `PORT <n>` line (bounded)."""
    process = subprocess.Popen([sys.executable, str(SERVER), "--port", "0", "--host", "127.0.0.1", *extra_args],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()
            break
        if process.poll() is not None:
            break
    if not line.startswith("PORT "):
        stop_server(process)
        raise RuntimeError(f"test server did not start (got {line!r})")
    return RunningServer(process, f"{scheme}://127.0.0.1:{int(line.split()[1])}")


def stop_server(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stdout:
        process.stdout.close()


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"<Response {self.status} {self.raw[:300]!r}>"


class Api:
    """Plain HTTP client for the server, one connection per call, 10 s timeout."""

    def __init__(self, base_url, ssl_context=None):
        self.base_url = base_url
        self.ssl_context = ssl_context
        self.token = None

    def request(self, method, path, body=None, query=None, token=None, headers=None, raw=None, timeout=10):
        scheme, rest = self.base_url.split("://")
        host, port = rest.split(":")
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, int(port), timeout=timeout, context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        all_headers = {"Accept": "application/json"}
        payload = raw
        if body is not None:
            payload = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        token = token if token is not None else self.token
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        url = path + ("?" + urlencode(query) if query else "")
        try:
            conn.request(method, url, body=payload, headers=all_headers)
            response = conn.getresponse()
            return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body=body, **kw)

    # controls

    def control(self, method, path, body=None):
        response = self.request(method, "/__test__/" + path, body=body)
        assert response.status == 200, response
        return response.json

    def add_identity(self, **spec):
        spec.setdefault("clientId", "client-" + uuid.uuid4().hex[:12])
        spec.setdefault("clientSecret", "secret-" + uuid.uuid4().hex)
        result = self.control("POST", "identities", spec)
        result["clientSecret"] = spec["clientSecret"]
        return result

    def login(self, identity):
        response = self.post("/api/v1/auth/universal-auth/login",
                             {"clientId": identity["clientId"], "clientSecret": identity["clientSecret"]})
        assert response.status == 200, response
        return response.json["accessToken"]

    def seed_secret(self, project_id, key, value, environment="dev", path="/", **extra):
        return self.control("POST", "secrets", {"projectId": project_id, "environment": environment,
                                                "secretPath": path, "secretKey": key, "secretValue": value,
                                                **extra})["secret"]


def secret_url(name):
    return "/api/v3/secrets/raw/" + quote(name, safe="")


def assert_error(response, status, message=None, error=None):
    """An error answer of §2: the four fields, a `req-` id, and the given status/message/error."""
    body = response.json
    assert response.status == status, response
    assert set(body) >= {"reqId", "statusCode", "message", "error"}, body
    assert body["statusCode"] == status and body["reqId"].startswith("req-") and len(body["reqId"]) == 18
    if message is not None:
        assert body["message"] == message, body
    if error is not None:
        assert body["error"] == error, body
    return body


@pytest.fixture(autouse=True)
def _bounded_time():
    """Every test is bounded: SIGALRM fails it after TEST_TIMEOUT_SECONDS."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded {TEST_TIMEOUT_SECONDS} s")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def server():
    running = start_server()
    try:
        yield running
    finally:
        stop_server(running.process)


@pytest.fixture
def api(server):
    return Api(server.base_url)


@pytest.fixture
def world(api):
    """A clean server with one identity that is a member of one project (dev/staging/prod)."""
    api.control("POST", "reset")
    identity = api.add_identity()
    project = api.control("POST", "projects", {"slug": "proj-" + uuid.uuid4().hex[:8], "name": "Conformance",
                                               "members": [identity["identityId"]]})
    api.token = api.login(identity)
    return {"identity": identity, "project": project, "api": api}
