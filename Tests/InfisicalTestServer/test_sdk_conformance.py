"""The official SDKs judge the test server: if an SDK disagrees, the server is wrong.

Two SDKs from PyPI, neither written here:
  * `infisical_client` (infisical-python 2.3.5, a Rust core) — "Rust" below;
  * `infisical_sdk` (infisicalsdk 1.0.18, requests) — "PySDK" below.
Both log in, create, get, list, update, rename (PySDK), delete and hit the
error paths they expose against the server; what one writes the other reads.
Plain-HTTP tests then hold the server to the rules the SDKs cannot reach
(error bodies and statuses, tokens, faults, request counts, TLS). Section
numbers (§n) point into shared/reference/infisical-api.md.
"""

import os
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import Api, assert_error, secret_url, start_server, stop_server

infisical_client = pytest.importorskip("infisical_client")
infisical_sdk = pytest.importorskip("infisical_sdk")
from infisical_client import (  # noqa: E402
    AuthenticationOptions, ClientSettings, CreateSecretOptions, DeleteSecretOptions, GetSecretOptions,
    InfisicalClient, ListSecretsOptions, UniversalAuthMethod, UpdateSecretOptions,
)
from infisical_sdk import InfisicalSDKClient  # noqa: E402
from infisical_sdk.infisical_requests import APIError  # noqa: E402


# ---------------------------------------------------------------------------
# SDK construction
# ---------------------------------------------------------------------------

def rust_client(base_url, identity=None, access_token=None):
    """infisical_client with its cache off (cache_ttl=0, §9.1)."""
    if access_token is not None:
        auth = AuthenticationOptions(access_token=access_token)
    else:
        auth = AuthenticationOptions(universal_auth=UniversalAuthMethod(
            client_id=identity["clientId"], client_secret=identity["clientSecret"]))
    return InfisicalClient(ClientSettings(site_url=base_url, cache_ttl=0, auth=auth))


def py_client(base_url, identity=None, token=None):
    """infisical_sdk with its cache off (cache_ttl=None, §9.2), logged in by universal auth."""
    client = InfisicalSDKClient(host=base_url, token=token, cache_ttl=None)
    if identity is not None:
        client.auth.universal_auth.login(client_id=identity["clientId"], client_secret=identity["clientSecret"])
    return client


@pytest.fixture
def rust(world, server):
    return rust_client(server.base_url, world["identity"])


@pytest.fixture
def pysdk(world, server):
    client = py_client(server.base_url, world["identity"])
    yield client
    client.close()


def pid(world):
    return world["project"]["id"]


# ---------------------------------------------------------------------------
# infisical_sdk (PySDK)
# ---------------------------------------------------------------------------

class TestPySDK:
    def test_login_returns_the_four_fields(self, world, server):
        client = InfisicalSDKClient(host=server.base_url + "/", cache_ttl=None)   # trailing / is stripped (§1)
        result = client.auth.universal_auth.login(client_id=world["identity"]["clientId"],
                                                  client_secret=world["identity"]["clientSecret"])
        assert result.tokenType == "Bearer"
        assert result.expiresIn == 2592000 and result.accessTokenMaxTTL == 2592000   # §3.2 defaults
        assert len(result.accessToken.split(".")) == 3                             # JWT-shaped
        assert client.get_token() == result.accessToken

    def test_bad_credentials(self, world, server):
        client = InfisicalSDKClient(host=server.base_url, cache_ttl=None)
        with pytest.raises(APIError) as raised:
            client.auth.universal_auth.login(client_id=world["identity"]["clientId"], client_secret="wrong")
        assert raised.value.status_code == 401
        assert raised.value.response["message"] == "Invalid credentials"

    def test_create_get_update_rename_delete(self, world, pysdk):
        project_id = pid(world)
        created = pysdk.secrets.create_secret_by_name(
            secret_name="DB_PASSWORD", secret_path="/", environment_slug="dev", project_id=project_id,
            secret_value="  hunter2 \n\n", secret_comment="  the db  ")
        assert created.secretKey == "DB_PASSWORD"
        assert created.secretValue == "hunter2\n"          # §5: trimmed, one final newline kept
        assert created.secretComment == "the db"           # §4.4: comment trimmed on create
        assert created.version == 1 and created.type == "shared"
        assert created.workspace == project_id and created.environment == "dev"
        assert created.id == created._id

        got = pysdk.secrets.get_secret_by_name(secret_name="DB_PASSWORD", environment_slug="dev", secret_path="/",
                                               project_id=project_id)
        assert (got.secretValue, got.version, got.secretPath) == ("hunter2\n", 1, "/")

        updated = pysdk.secrets.update_secret_by_name(
            current_secret_name="DB_PASSWORD", secret_path="/", environment_slug="dev", project_id=project_id,
            secret_value="no-newline\n")
        assert updated.version == 2 and updated.secretValue == "no-newline\n"
        assert updated.createdAt.endswith("Z") and "." in updated.updatedAt

        renamed = pysdk.secrets.update_secret_by_name(
            current_secret_name="DB_PASSWORD", secret_path="/", environment_slug="dev", project_id=project_id,
            new_secret_name="DB_PASS")
        assert renamed.secretKey == "DB_PASS" and renamed.version == 3
        assert renamed.secretValue == ""                   # §4.5 caveat: value not sent ⇒ ""
        got = pysdk.secrets.get_secret_by_name(secret_name="DB_PASS", environment_slug="dev", secret_path="/",
                                               project_id=project_id)
        assert got.secretValue == "no-newline\n" and got.version == 3
        with pytest.raises(APIError) as raised:
            pysdk.secrets.get_secret_by_name(secret_name="DB_PASSWORD", environment_slug="dev", secret_path="/",
                                             project_id=project_id)
        assert raised.value.status_code == 404

        deleted = pysdk.secrets.delete_secret_by_name(secret_name="DB_PASS", secret_path="/",
                                                      environment_slug="dev", project_id=project_id)
        assert deleted.secretKey == "DB_PASS" and deleted.secretValue == "no-newline\n"
        with pytest.raises(APIError) as raised:
            pysdk.secrets.get_secret_by_name(secret_name="DB_PASS", environment_slug="dev", secret_path="/",
                                             project_id=project_id)
        assert raised.value.status_code == 404
        assert raised.value.response["message"] == "Secret with name 'DB_PASS' not found"

    def test_project_slug_works_for_reads_and_writes(self, world, pysdk):
        slug = world["project"]["slug"]
        created = pysdk.secrets.create_secret_by_name(secret_name="BY_SLUG", secret_path="/",
                                                      environment_slug="staging", project_slug=slug,
                                                      secret_value="v")
        assert created.workspace == pid(world)
        got = pysdk.secrets.get_secret_by_name(secret_name="BY_SLUG", environment_slug="staging",
                                               secret_path="/", project_slug=slug)
        assert got.secretValue == "v"
        listed = pysdk.secrets.list_secrets(environment_slug="staging", secret_path="/", project_slug=slug)
        assert [s.secretKey for s in listed.secrets] == ["BY_SLUG"]

    def test_duplicate_create_and_rename_rules(self, world, pysdk):
        kw = dict(secret_path="/", environment_slug="dev", project_id=pid(world))
        pysdk.secrets.create_secret_by_name(secret_name="A", secret_value="1", **kw)
        pysdk.secrets.create_secret_by_name(secret_name="B", secret_value="2", **kw)
        # The newest server (secret-v2-bridge-service.ts at 0b1895fa) says "exists"; older ones "exist".
        with pytest.raises(APIError) as raised:
            pysdk.secrets.create_secret_by_name(secret_name="A", secret_value="again", **kw)
        assert raised.value.status_code == 400 and raised.value.response["message"] == "Secret already exists"
        with pytest.raises(APIError) as raised:
            pysdk.secrets.update_secret_by_name(current_secret_name="A", new_secret_name="B", **kw)
        assert raised.value.status_code == 400
        assert raised.value.response["message"] == "Secret with the new name already exists"
        world["api"].control("POST", "options", {"legacyExistMessages": True})
        with pytest.raises(APIError) as raised:
            pysdk.secrets.create_secret_by_name(secret_name="A", secret_value="again", **kw)
        assert raised.value.response["message"] == "Secret already exist"
        with pytest.raises(APIError) as raised:
            pysdk.secrets.update_secret_by_name(current_secret_name="A", new_secret_name="B", **kw)
        assert raised.value.response["message"] == "Secret with the new name already exist"
        world["api"].control("POST", "options", {"legacyExistMessages": False})
        with pytest.raises(APIError) as raised:
            pysdk.secrets.update_secret_by_name(current_secret_name="A", new_secret_name="x:y", **kw)
        assert raised.value.status_code == 422 and isinstance(raised.value.response["message"], list)
        with pytest.raises(APIError) as raised:
            pysdk.secrets.update_secret_by_name(current_secret_name="MISSING", secret_value="v", **kw)
        assert raised.value.status_code == 404
        assert raised.value.response["message"] == "Secret with name MISSING not found"
        with pytest.raises(APIError) as raised:
            pysdk.secrets.delete_secret_by_name(secret_name="MISSING", **kw)
        assert raised.value.status_code == 404 and raised.value.response["message"] == "Secret not found"

    def test_folders_and_listing(self, world, pysdk):
        project_id = pid(world)
        app = pysdk.folders.create_folder(name="app", environment_slug="dev", project_id=project_id, path="/")
        assert app.name == "app" and app.path == "/app" and app.version == 1
        deep = pysdk.folders.create_folder(name="db", environment_slug="dev", project_id=project_id,
                                           path="/app/nested")          # §6: parents created
        assert deep.path == "/app/nested/db"
        kw = dict(environment_slug="dev", project_id=project_id)
        pysdk.secrets.create_secret_by_name(secret_name="ROOT_KEY", secret_path="/", secret_value="r", **kw)
        pysdk.secrets.create_secret_by_name(secret_name="APP_KEY", secret_path="/app", secret_value="a", **kw)
        pysdk.secrets.create_secret_by_name(secret_name="DB_KEY", secret_path="/app/nested/db/",
                                            secret_value="d", **kw)      # trailing / removed (§5)

        # recursive=False goes out as the Python bool "False"; the folder route's booleanSchema takes it.
        listed = pysdk.folders.list_folders(project_id=project_id, environment_slug="dev", path="/app")
        assert sorted(f.name for f in listed.folders) == ["nested"]
        everything = pysdk.folders.list_folders(project_id=project_id, environment_slug="dev", path="/",
                                                recursive=True)
        assert sorted(f.relativePath for f in everything.folders) == ["/app", "/app/nested", "/app/nested/db"]
        assert pysdk.folders.list_folders(project_id=project_id, environment_slug="dev", path="/nope").folders == []

        root = pysdk.secrets.list_secrets(secret_path="/", **kw)
        assert [(s.secretKey, s.secretPath) for s in root.secrets] == [("ROOT_KEY", "/")]
        assert root.imports == []                                        # include_imports=true, none exist
        app_only = pysdk.secrets.list_secrets(secret_path="/app", **kw)
        assert [s.secretKey for s in app_only.secrets] == ["APP_KEY"]
        recursive = pysdk.secrets.list_secrets(secret_path="/", recursive=True, **kw)
        assert sorted((s.secretKey, s.secretPath) for s in recursive.secrets) == [
            ("APP_KEY", "/app"), ("DB_KEY", "/app/nested/db"), ("ROOT_KEY", "/")]

        fetched = pysdk.folders.get_folder_by_id(app.id)
        assert fetched.path == "/app" and fetched.environment.envSlug == "dev" and fetched.projectId == project_id
        renamed = pysdk.folders.update_folder(folder_id=app.id, name="service", environment_slug="dev",
                                              project_id=project_id, path="/")
        assert renamed.name == "service" and renamed.path == "/service" and renamed.version == 2
        got = pysdk.secrets.get_secret_by_name(secret_name="DB_KEY", secret_path="/service/nested/db",
                                               environment_slug="dev", project_id=project_id)
        assert got.secretValue == "d" and got.secretPath == "/service/nested/db"

        with pytest.raises(APIError) as raised:
            pysdk.folders.delete_folder(folder_id_or_name="service", environment_slug="dev",
                                        project_id=project_id, path="/")
        assert raised.value.status_code == 400 and "contains resources" in raised.value.response["message"]
        deleted = pysdk.folders.delete_folder(folder_id_or_name=app.id, environment_slug="dev",
                                              project_id=project_id, path="/", force_delete=True)
        assert deleted.id == app.id
        with pytest.raises(APIError) as raised:
            pysdk.secrets.list_secrets(secret_path="/service", **kw)
        assert raised.value.status_code == 404 and raised.value.response["error"] == "SecretPathNotFound"

    def test_imports_and_references(self, world, pysdk, api):
        project_id = pid(world)
        api.seed_secret(project_id, "SHARED_URL", "https://db", environment="prod", path="/common")
        api.control("POST", "imports", {"projectId": project_id, "environment": "dev", "secretPath": "/",
                                        "importEnvironment": "prod", "importPath": "/common"})
        api.seed_secret(project_id, "HOST", "db.local")
        api.seed_secret(project_id, "URL", "postgres://${HOST}/x")
        kw = dict(environment_slug="dev", project_id=project_id, secret_path="/")
        listed = pysdk.secrets.list_secrets(**kw)                 # PySDK defaults: expand + include_imports
        values = {s.secretKey: s.secretValue for s in listed.secrets}
        assert values == {"HOST": "db.local", "URL": "postgres://db.local/x"}
        assert len(listed.imports) == 1
        imported = listed.imports[0]
        assert (imported.secretPath, imported.environment) == ("/common", "prod")
        assert [s["secretKey"] for s in imported.secrets] == ["SHARED_URL"]
        assert "createdAt" not in imported.secrets[0]                    # §4.1 import entries
        raw = pysdk.secrets.list_secrets(expand_secret_references=False, include_imports=False, **kw)
        assert {s.secretKey: s.secretValue for s in raw.secrets}["URL"] == "postgres://${HOST}/x"
        assert raw.imports == []
        via_import = pysdk.secrets.get_secret_by_name(secret_name="SHARED_URL", **kw)
        assert via_import.secretValue == "https://db" and via_import.environment == "prod"
        with pytest.raises(APIError):
            pysdk.secrets.get_secret_by_name(secret_name="SHARED_URL", include_imports=False, **kw)

    def test_user_token_reads_personal_secrets(self, world, server, api):
        """A user actor (seeded with a static token) sees its own personal secret; identities never."""
        user = api.add_identity(actorType="user", accessToken="user-static-token")
        api.control("POST", "projects", {"slug": "user-proj", "members": [user["identityId"],
                                                                          world["identity"]["identityId"]]})
        project = api.get("/api/v1/projects/slug/user-proj").json
        api.seed_secret(project["id"], "TOKEN", "shared-value")
        api.seed_secret(project["id"], "TOKEN", "personal-value", type="personal", userId=user["userId"])
        client = InfisicalSDKClient(host=server.base_url, token="user-static-token", cache_ttl=None)
        listed = client.secrets.list_secrets(environment_slug="dev", secret_path="/", project_id=project["id"])
        assert sorted((s.type, s.secretValue) for s in listed.secrets) == [
            ("personal", "personal-value"), ("shared", "shared-value")]
        identity_view = py_client(server.base_url, world["identity"]).secrets.list_secrets(
            environment_slug="dev", secret_path="/", project_id=project["id"])
        assert [s.type for s in identity_view.secrets] == ["shared"]


# ---------------------------------------------------------------------------
# infisical_client (Rust core)
# ---------------------------------------------------------------------------

class TestRustSDK:
    def test_create_get_list_update_delete(self, world, rust):
        project_id = pid(world)
        created = rust.createSecret(CreateSecretOptions(environment="dev", project_id=project_id,
                                                        secret_name="API_KEY", secret_value="\tabc  "))
        assert (created.secret_key, created.secret_value, created.version, created.type) == \
            ("API_KEY", "abc", 1, "shared")
        got = rust.getSecret(GetSecretOptions(environment="dev", project_id=project_id, secret_name="API_KEY"))
        assert (got.secret_value, got.version, got.workspace, got.environment) == ("abc", 1, project_id, "dev")
        assert not got.is_fallback
        updated = rust.updateSecret(UpdateSecretOptions(environment="dev", project_id=project_id,
                                                        secret_name="API_KEY", secret_value="line1\nline2\n\n"))
        assert updated.version == 2 and updated.secret_value == "line1\nline2\n"
        listed = rust.listSecrets(ListSecretsOptions(environment="dev", project_id=project_id))
        assert [(s.secret_key, s.secret_value, s.secret_path) for s in listed] == [
            ("API_KEY", "line1\nline2\n", "/")]
        deleted = rust.deleteSecret(DeleteSecretOptions(environment="dev", project_id=project_id,
                                                        secret_name="API_KEY"))
        assert deleted.secret_key == "API_KEY" and deleted.version == 2
        assert rust.listSecrets(ListSecretsOptions(environment="dev", project_id=project_id)) == []

    def test_folder_paths_recursive_and_imports(self, world, rust, api):
        project_id = pid(world)
        api.post("/api/v2/folders", {"projectId": project_id, "environment": "dev", "name": "svc", "path": "/a"})
        rust.createSecret(CreateSecretOptions(environment="dev", project_id=project_id, secret_name="IN_SVC",
                                              secret_value="s", path="/a/svc"))
        rust.createSecret(CreateSecretOptions(environment="dev", project_id=project_id, secret_name="AT_ROOT",
                                              secret_value="r"))
        got = rust.getSecret(GetSecretOptions(environment="dev", project_id=project_id, secret_name="IN_SVC",
                                              path="/a/svc"))
        assert got.secret_value == "s"
        in_folder = rust.listSecrets(ListSecretsOptions(environment="dev", project_id=project_id, path="/a/svc"))
        assert [(s.secret_key, s.secret_path) for s in in_folder] == [("IN_SVC", "/a/svc")]
        recursive = rust.listSecrets(ListSecretsOptions(environment="dev", project_id=project_id, path="/",
                                                        recursive=True))
        assert sorted((s.secret_key, s.secret_path) for s in recursive) == [("AT_ROOT", "/"), ("IN_SVC", "/a/svc")]
        api.seed_secret(project_id, "FROM_PROD", "p", environment="prod")
        api.control("POST", "imports", {"projectId": project_id, "environment": "dev", "secretPath": "/",
                                        "importEnvironment": "prod", "importPath": "/"})
        with_imports = rust.listSecrets(ListSecretsOptions(environment="dev", project_id=project_id,
                                                           include_imports=True))
        # §4.9: Rust appends imported keys that are not already present
        assert sorted(s.secret_key for s in with_imports) == ["AT_ROOT", "FROM_PROD"]
        without = rust.listSecrets(ListSecretsOptions(environment="dev", project_id=project_id,
                                                      include_imports=False))
        assert [s.secret_key for s in without] == ["AT_ROOT"]

    def test_errors_surface_as_exceptions(self, world, rust):
        project_id = pid(world)
        rust.createSecret(CreateSecretOptions(environment="dev", project_id=project_id, secret_name="ONCE",
                                              secret_value="1"))
        with pytest.raises(Exception) as raised:
            rust.createSecret(CreateSecretOptions(environment="dev", project_id=project_id, secret_name="ONCE",
                                                  secret_value="2"))
        assert str(raised.value) == "[Bad request]: Secret already exists"
        with pytest.raises(Exception) as raised:
            rust.updateSecret(UpdateSecretOptions(environment="dev", project_id=project_id,
                                                  secret_name="NOT_THERE", secret_value="2"))
        assert str(raised.value) == "Secret with name 'NOT_THERE' not found."   # §2: Rust rewrites any 404
        with pytest.raises(Exception):
            rust.deleteSecret(DeleteSecretOptions(environment="dev", project_id=project_id,
                                                  secret_name="NOT_THERE"))
        with pytest.raises(Exception) as raised:
            rust.listSecrets(ListSecretsOptions(environment="nope", project_id=project_id))
        assert str(raised.value) == "Secret with name '' not found."            # §2: even for a list

    def test_get_missing_secret_and_env_fallback(self, world, rust, monkeypatch):
        """§4.8: Rust sends type=shared once; on any non-200 it falls back to the process env var."""
        project_id = pid(world)
        name = "ONLY_IN_ENV_" + uuid.uuid4().hex[:6].upper()
        monkeypatch.delenv(name, raising=False)
        with pytest.raises(Exception) as raised:
            rust.getSecret(GetSecretOptions(environment="dev", project_id=project_id, secret_name=name))
        assert str(raised.value) == f"Secret with name '{name}' not found."
        monkeypatch.setenv(name, "from-env")
        got = rust.getSecret(GetSecretOptions(environment="dev", project_id=project_id, secret_name=name))
        assert got.is_fallback and got.secret_value == "from-env" and got.version == 0

    def test_personal_type_for_identities(self, world, rust, api):
        """Identities: personal ⇒ 404 on read, 400 on write (§4); the docs' shared→personal
        fallback is not implemented by the SDK (§4.8)."""
        project_id = pid(world)
        api.seed_secret(project_id, "P_ONLY", "mine", type="personal", userId=str(uuid.uuid4()))
        with pytest.raises(Exception):
            rust.getSecret(GetSecretOptions(environment="dev", project_id=project_id, secret_name="P_ONLY"))
        with pytest.raises(Exception):
            rust.getSecret(GetSecretOptions(environment="dev", project_id=project_id, secret_name="P_ONLY",
                                            type="personal"))
        with pytest.raises(Exception) as raised:
            rust.createSecret(CreateSecretOptions(environment="dev", project_id=project_id, secret_name="NEW_P",
                                                  secret_value="x", type="personal"))
        # The Rust core prefixes 400 messages with "[Bad request]: ".
        assert str(raised.value) == "[Bad request]: Must be user to create personal secret"

    def test_user_access_token_reads_personal(self, world, server, api):
        user = api.add_identity(actorType="user", accessToken="rust-user-token")
        project = api.control("POST", "projects", {"slug": "rust-user", "members": [user["identityId"]]})
        api.seed_secret(project["id"], "PERSONAL", "only-me", type="personal", userId=user["userId"])
        client = rust_client(server.base_url, access_token="rust-user-token")
        got = client.getSecret(GetSecretOptions(environment="dev", project_id=project["id"],
                                                secret_name="PERSONAL", type="personal"))
        assert (got.secret_value, got.type) == ("only-me", "personal")
        created = client.createSecret(CreateSecretOptions(environment="dev", project_id=project["id"],
                                                          secret_name="MY_OWN", secret_value="v",
                                                          type="personal"))
        assert created.type == "personal"

    def test_bad_credentials(self, world, server):
        bad = dict(world["identity"], clientSecret="wrong")
        client = rust_client(server.base_url, bad)
        with pytest.raises(Exception) as raised:
            client.listSecrets(ListSecretsOptions(environment="dev", project_id=pid(world)))
        assert str(raised.value) == "Failed to authenticate: Invalid credentials"

    def test_expired_token_is_not_renewed(self, world, server, api):
        """§3.2: Rust logs in lazily once and never renews; after expiry the 403 is returned."""
        client = rust_client(server.base_url, world["identity"])
        client.listSecrets(ListSecretsOptions(environment="dev", project_id=pid(world)))
        api.control("POST", "tokens/expire", {"identityId": world["identity"]["identityId"]})
        api.control("DELETE", "requests")
        with pytest.raises(Exception) as raised:
            client.listSecrets(ListSecretsOptions(environment="dev", project_id=pid(world)))
        print("rust error after expiry:", raised.value)
        # One request, no login retry and no renew call.
        assert api.control("GET", "requests") == {"GET /api/v3/secrets/raw": 1}


# ---------------------------------------------------------------------------
# What the SDKs send (§4.9), as the server saw it
# ---------------------------------------------------------------------------

class TestWireShapes:
    def test_rust_requests(self, world, rust, api):
        project_id = pid(world)
        rust.createSecret(CreateSecretOptions(environment="dev", project_id=project_id, secret_name="W",
                                              secret_value="v"))
        api.control("DELETE", "requests")
        rust.getSecret(GetSecretOptions(environment="dev", project_id=project_id, secret_name="W"))
        rust.listSecrets(ListSecretsOptions(environment="dev", project_id=project_id))
        rust.updateSecret(UpdateSecretOptions(environment="dev", project_id=project_id, secret_name="W",
                                              secret_value="w"))
        get, listing, update = api.control("GET", "requests/log")["requests"]
        assert get["query"] == {"environment": "dev", "include_imports": "false", "secretPath": "/",
                                "type": "shared", "workspaceId": project_id}     # no expandSecretReferences
        assert get["userAgent"] == "infisical-python-sdk"
        assert listing["query"]["expandSecretReferences"] == "true"
        assert listing["bodyKeys"]                      # the Rust SDK repeats the query as a JSON body on GET
        assert listing["contentType"] == "application/json"
        assert "secretComment" not in update["bodyKeys"]   # update sends the value but no comment

    def test_pysdk_requests(self, world, pysdk, api):
        project_id = pid(world)
        api.control("DELETE", "requests")
        pysdk.secrets.list_secrets(environment_slug="dev", secret_path="/", project_id=project_id)
        pysdk.secrets.create_secret_by_name(secret_name="W", secret_path="/", environment_slug="dev",
                                            project_id=project_id, secret_value="v")
        listing, create = api.control("GET", "requests/log")["requests"]
        assert listing["query"] == {"workspaceId": project_id, "environment": "dev", "secretPath": "/",
                                    "viewSecretValue": "true", "expandSecretReferences": "true",
                                    "recursive": "false", "include_imports": "true"}
        assert listing["bodyKeys"] is None
        assert create["bodyKeys"] == ["environment", "secretPath", "secretValue", "skipMultilineEncoding",
                                      "type", "workspaceId"]


# ---------------------------------------------------------------------------
# Both SDKs on the same data
# ---------------------------------------------------------------------------

class TestCrossSDK:
    def test_what_one_writes_the_other_reads(self, world, rust, pysdk):
        project_id = pid(world)
        rust.createSecret(CreateSecretOptions(environment="prod", project_id=project_id, secret_name="FROM_RUST",
                                              secret_value=" r1 \n"))
        got = pysdk.secrets.get_secret_by_name(secret_name="FROM_RUST", environment_slug="prod", secret_path="/",
                                               project_id=project_id)
        assert got.secretValue == "r1\n" and got.version == 1
        pysdk.secrets.update_secret_by_name(current_secret_name="FROM_RUST", secret_path="/",
                                            environment_slug="prod", project_id=project_id, secret_value="p2")
        assert rust.getSecret(GetSecretOptions(environment="prod", project_id=project_id,
                                               secret_name="FROM_RUST")).secret_value == "p2"
        pysdk.secrets.create_secret_by_name(secret_name="FROM_PY", secret_path="/", environment_slug="prod",
                                            project_id=project_id, secret_value="multi\nline\n")
        listed = rust.listSecrets(ListSecretsOptions(environment="prod", project_id=project_id))
        assert {s.secret_key: (s.secret_value, s.version) for s in listed} == {
            "FROM_RUST": ("p2", 2), "FROM_PY": ("multi\nline\n", 1)}
        rust.deleteSecret(DeleteSecretOptions(environment="prod", project_id=project_id, secret_name="FROM_PY"))
        assert [s.secretKey for s in pysdk.secrets.list_secrets(
            environment_slug="prod", secret_path="/", project_id=project_id).secrets] == ["FROM_RUST"]

    def test_a_comment_alone_is_updated_and_the_value_kept(self, world, rust, pysdk, api):
        """§4.5: a PATCH with only secretComment (what infisicalfs sends for setfattr) leaves the value."""
        project_id = pid(world)
        where = dict(secret_path="/", environment_slug="dev", project_id=project_id)
        created = pysdk.secrets.create_secret_by_name(secret_name="NOTED", secret_value="v1",
                                                      secret_comment="first", **where)
        api.control("DELETE", "requests")
        updated = pysdk.secrets.update_secret_by_name(current_secret_name="NOTED", secret_comment="  second\n",
                                                      tags_ids=["ops"], **where)
        (patch,) = api.control("GET", "requests/log")["requests"]
        assert "secretValue" not in patch["bodyKeys"] and "secretComment" in patch["bodyKeys"]
        assert updated.version == 2 and updated.id == created.id
        assert updated.secretComment == "  second\n"        # §4.5: not trimmed on update
        assert updated.secretValue == ""                    # §4.5 caveat: value not sent ⇒ ""
        got = pysdk.secrets.get_secret_by_name(secret_name="NOTED", **where)
        assert (got.secretValue, got.secretComment, got.version, got.id) == ("v1", "  second\n", 2, created.id)
        assert [(t["id"], t["slug"]) for t in got.tags] == [("ops", "ops")]   # dicts in PySDK 1.0.18
        listed = next(s for s in pysdk.secrets.list_secrets(**where).secrets if s.secretKey == "NOTED")
        assert (listed.secretComment, listed.id, [t["slug"] for t in listed.tags]) == \
            ("  second\n", created.id, ["ops"])
        # The Rust SDK reads the same comment, and its value-only update keeps it.
        assert rust.getSecret(GetSecretOptions(environment="dev", project_id=project_id,
                                               secret_name="NOTED")).secret_comment == "  second\n"
        rust.updateSecret(UpdateSecretOptions(environment="dev", project_id=project_id, secret_name="NOTED",
                                              secret_value="v2"))
        got = pysdk.secrets.get_secret_by_name(secret_name="NOTED", **where)
        assert (got.secretValue, got.secretComment, got.version) == ("v2", "  second\n", 3)


# ---------------------------------------------------------------------------
# TLS: a CA made by openssl, both SDKs and plain HTTPS
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    run = lambda *args: subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=30)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=infisicalfs test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                               "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    running = start_server("--tls-cert", str(d / "server.pem"), "--tls-key", str(d / "server.key"),
                           scheme="https")
    try:
        yield running, str(d / "ca.pem")
    finally:
        stop_server(running.process)


class TestTLS:
    def test_plain_https_and_both_sdks(self, tls_server, monkeypatch):
        import ssl
        running, ca = tls_server
        api = Api(running.base_url, ssl.create_default_context(cafile=ca))
        api.control("POST", "reset")
        identity = api.add_identity()
        project = api.control("POST", "projects", {"slug": "tls", "members": [identity["identityId"]]})
        api.token = api.login(identity)
        assert api.post(secret_url("OVER_TLS"), {"workspaceId": project["id"], "environment": "dev",
                                                 "secretValue": "t"}).status == 200
        with pytest.raises(ssl.SSLError):       # not trusted without the CA
            Api(running.base_url, ssl.create_default_context()).get("/api/v1/projects")

        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
        client = py_client(running.base_url, identity)
        assert client.secrets.get_secret_by_name(secret_name="OVER_TLS", environment_slug="dev", secret_path="/",
                                                 project_id=project["id"]).secretValue == "t"
        # §1 [T]: INFISICAL_SSL_CERTIFICATE has no effect in 2.3.5; SSL_CERT_FILE works.
        monkeypatch.setenv("SSL_CERT_FILE", ca)
        rust = rust_client(running.base_url, identity)
        assert rust.getSecret(GetSecretOptions(environment="dev", project_id=project["id"],
                                               secret_name="OVER_TLS")).secret_value == "t"


# ---------------------------------------------------------------------------
# Plain HTTP: the server's own rules (§2–§7) that the SDKs cannot reach
# ---------------------------------------------------------------------------

def write_body(world, **extra):
    return {"workspaceId": pid(world), "environment": "dev", **extra}


class TestAuthRules:
    def test_missing_unknown_and_expired_tokens(self, world, api):
        assert_error(Api(api.base_url).get("/api/v1/projects"), 401, "Token missing", "UnauthorizedError")
        response = api.request("GET", "/api/v1/projects", headers={"Authorization": ""})
        assert_error(response, 401, "Token missing")
        assert_error(api.get("/api/v1/projects", token="not-a-token"), 401, error="UnauthorizedError")
        assert api.get("/api/v1/projects").status == 200
        api.control("POST", "tokens/expire", {"identityId": world["identity"]["identityId"]})
        assert_error(api.get("/api/v1/projects"), 403, "Your token has expired. Please re-authenticate.",
                     "TokenError")

    def test_login_forms_and_validation(self, world, api):
        identity = world["identity"]
        form = f"clientId={identity['clientId']}&clientSecret={identity['clientSecret']}".encode()
        response = api.request("POST", "/api/v1/auth/universal-auth/login", raw=form, token="",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status == 200 and response.json["tokenType"] == "Bearer"
        body = assert_error(api.post("/api/v1/auth/universal-auth/login", {"clientId": identity["clientId"]},
                                     token=""), 422, error="ValidationFailure")
        assert body["message"][0]["path"] == ["clientSecret"]
        assert_error(api.post("/api/v1/auth/universal-auth/login", {"clientId": "nobody", "clientSecret": "x"},
                              token=""), 401, "Invalid credentials")
        padded = {"clientId": f"  {identity['clientId']} ", "clientSecret": identity["clientSecret"]}
        assert api.post("/api/v1/auth/universal-auth/login", padded, token="").status == 200   # trimmed

    def test_renew_and_revoke(self, api):
        api.control("POST", "reset")
        identity = api.add_identity(accessTokenTTL=100, accessTokenMaxTTL=1000)
        login = api.post("/api/v1/auth/universal-auth/login",
                         {"clientId": identity["clientId"], "clientSecret": identity["clientSecret"]}).json
        assert (login["expiresIn"], login["accessTokenMaxTTL"]) == (100, 1000)
        renewed = api.post("/api/v1/auth/token/renew", {"accessToken": login["accessToken"]})
        assert renewed.status == 200 and renewed.json["accessToken"] != login["accessToken"]
        assert renewed.json["expiresIn"] == 100
        assert api.get("/api/v1/projects", token=renewed.json["accessToken"]).status == 200
        revoked = api.post("/api/v1/auth/token/revoke", {"accessToken": renewed.json["accessToken"]})
        assert revoked.json == {"message": "Successfully revoked access token"}
        assert_error(api.get("/api/v1/projects", token=renewed.json["accessToken"]), 401)
        assert_error(api.post("/api/v1/auth/token/renew", {"accessToken": login["accessToken"]}), 401)

        again = api.login(identity)
        api.control("POST", "tokens/expire", {})
        assert_error(api.post("/api/v1/auth/token/renew", {"accessToken": again}), 401,
                     "Failed to renew MI access token due to TTL expiration")

    def test_renew_past_max_ttl(self, api):
        """events §7: a renewal refused for the max TTL deletes the token record, so the token,
        still unexpired, answers 401 `No identity access token found` everywhere from then on."""
        api.control("POST", "reset")
        default = api.add_identity()                    # TTL == max TTL: a renew would pass the max
        token = api.login(default)
        assert api.get("/api/v1/projects", token=token).status == 200
        assert_error(api.post("/api/v1/auth/token/renew", {"accessToken": token}), 401,
                     "Failed to renew MI access token past its Max TTL expiration", "UnauthorizedError")
        assert_error(api.get("/api/v1/projects", token=token), 401, "No identity access token found",
                     "UnauthorizedError")
        assert_error(api.post("/api/v1/auth/token/renew", {"accessToken": token}), 401,
                     "No identity access token found")
        assert_error(api.post("/api/v1/auth/token/revoke", {"accessToken": token}), 401,
                     "No identity access token found")
        other = api.login(default)                      # other tokens of the identity are untouched
        assert api.get("/api/v1/projects", token=other).status == 200
        short = api.add_identity(accessTokenTTL=0, accessTokenMaxTTL=1)
        token = api.login(short)
        time.sleep(1.2)
        assert_error(api.post("/api/v1/auth/token/renew", {"accessToken": token}), 401,
                     "Failed to renew MI access token due to Max TTL expiration")
        assert_error(api.get("/api/v1/projects", token=token), 401, "No identity access token found")
        assert api.get("/api/v1/projects", token=api.login(short)).status == 200   # log in again: fine

    def test_short_ttl_expires_by_itself(self, api):
        api.control("POST", "reset")
        identity = api.add_identity(accessTokenTTL=1, accessTokenMaxTTL=10)
        token = api.login(identity)
        assert api.get("/api/v1/projects", token=token).status == 200
        time.sleep(1.2)
        assert_error(api.get("/api/v1/projects", token=token), 403, error="TokenError")


class TestProjects:
    def test_project_routes(self, world, api):
        project = world["project"]
        other = api.control("POST", "projects", {"slug": "not-mine"})
        listed = api.get("/api/v1/projects").json["projects"]
        assert [p["id"] for p in listed] == [project["id"]]
        assert api.get("/api/v1/workspace").json["workspaces"][0]["slug"] == project["slug"]
        one = api.get(f"/api/v1/projects/{project['id']}").json["project"]
        assert one["_id"] == one["id"] == project["id"]
        assert [(e["slug"], e["name"]) for e in one["environments"]] == [
            ("dev", "Development"), ("staging", "Staging"), ("prod", "Production")]
        assert set(one["environments"][0]) == {"id", "name", "slug"}
        assert api.get(f"/api/v1/workspace/{project['id']}").json["workspace"]["id"] == project["id"]
        assert api.get(f"/api/v1/projects/slug/{project['slug']}").json["id"] == project["id"]   # unwrapped
        assert_error(api.get("/api/v1/projects/00000000-0000-0000-0000-000000000000"), 404, error="NotFound")
        assert_error(api.get(f"/api/v1/projects/{other['id']}"), 403, error="ProjectMembershipNotFound")
        assert_error(api.get(secret_url("X"), query={"workspaceId": other["id"], "environment": "dev"}), 403)


class TestSecretRules:
    def test_value_transformation(self, world, api):
        cases = {"  lead": "lead", "trail  ": "trail", "x\n\n": "x\n", "x \n": "x\n", " \n a\n": "a\n",
                 "": "", "pem\n-----END-----\n": "pem\n-----END-----\n", "\x1cjs\x1c": "\x1cjs\x1c"}
        for i, (sent, stored) in enumerate(cases.items()):
            response = api.post(secret_url(f"V{i}"), write_body(world, secretValue=sent))
            assert response.status == 200 and response.json["secret"]["secretValue"] == stored, (sent, response)

    def test_response_fields_per_endpoint(self, world, api):
        base = {"id", "_id", "workspace", "environment", "version", "type", "secretKey", "secretValue",
                "secretComment", "createdAt", "updatedAt"}
        created = api.post(secret_url("F"), write_body(world, secretValue="v")).json["secret"]
        assert base <= set(created) and not {"secretPath", "tags", "secretValueHidden"} & set(created)
        got = api.get(secret_url("F"), query={"workspaceId": pid(world), "environment": "dev"}).json["secret"]
        assert base | {"secretValueHidden", "secretPath", "tags", "secretMetadata"} <= set(got)
        listed = api.get("/api/v3/secrets/raw", query={"workspaceId": pid(world), "environment": "dev"}).json
        assert base | {"secretPath", "secretValueHidden", "tags", "secretMetadata"} <= set(listed["secrets"][0])
        assert listed["imports"] == []
        updated = api.patch(secret_url("F"), write_body(world, secretComment="c")).json["secret"]
        assert "secretValueHidden" in updated and "secretPath" not in updated
        # §4.5 caveat: value not sent ⇒ "" in the answer; the stored value is unchanged
        assert updated["secretValue"] == "" and updated["secretComment"] == "c" and updated["version"] == 2
        got = api.get(secret_url("F"), query={"workspaceId": pid(world), "environment": "dev"}).json["secret"]
        assert (got["secretValue"], got["secretComment"]) == ("v", "c")
        import re
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", got["updatedAt"])
        old = api.get(secret_url("F"), query={"workspaceId": pid(world), "environment": "dev", "version": "1"})
        assert old.json["secret"]["version"] == 1 and old.json["secret"]["secretComment"] == ""
        deleted = api.delete(secret_url("F"), write_body(world)).json["secret"]
        assert deleted["secretValue"] == "v" and "secretValueHidden" in deleted

    def test_paths(self, world, api):
        api.post("/api/v2/folders", {"projectId": pid(world), "environment": "dev", "name": "a", "path": "/"})
        q = {"workspaceId": pid(world), "environment": "dev"}
        assert api.get("/api/v3/secrets/raw", query={**q, "secretPath": " /a/ "}).status == 200
        for bad in ("a", "//a", "/a//"):
            body = assert_error(api.get("/api/v3/secrets/raw", query={**q, "secretPath": bad}), 404,
                                error="SecretPathNotFound")
            assert body["message"].startswith("Folder with path '")
        assert_error(api.get("/api/v3/secrets/raw", query={**q, "secretPath": "/a.b"}), 400,
                     "Invalid secret path. Only alphanumeric characters, dashes, and underscores are allowed.")
        assert_error(api.get("/api/v3/secrets/raw", query={**q, "secretPath": "/A"}), 404)   # case-sensitive
        assert_error(api.get("/api/v3/secrets/raw", query={**q, "environment": "qa"}), 404,
                     "Folder with path '/' in environment 'qa' was not found. Please ensure the environment "
                     "slug and secret path is correct.")
        assert_error(api.get(secret_url("X"), query={**q, "secretPath": "/missing"}), 404,
                     "Folder with path '/missing' in environment with slug 'dev' not found")
        assert_error(api.post(secret_url("X"), write_body(world, secretPath="/missing", secretValue="v")), 404)

    def test_project_selection(self, world, api):
        slug = world["project"]["slug"]
        assert_error(api.get("/api/v3/secrets/raw", query={"environment": "dev"}), 400,
                     "You must provide projectSlug or workspaceId")
        assert_error(api.get("/api/v3/secrets/raw", query={"workspaceId": pid(world)}), 400,
                     "Missing workspace id or environment")
        assert api.get("/api/v3/secrets/raw", query={"workspaceSlug": slug, "environment": "dev"}).status == 200
        # writes take projectSlug, not workspaceSlug (§4.4)
        assert_error(api.post(secret_url("S"), {"workspaceSlug": slug, "environment": "dev", "secretValue": "v"}),
                     400, "You must provide projectSlug or workspaceId")
        assert api.post(secret_url("S"), {"projectSlug": slug, "environment": "dev",
                                          "secretValue": "v"}).status == 200

    def test_names_and_booleans(self, world, api):
        for bad in ("A:B", "A/B"):
            body = assert_error(api.post(secret_url(bad), write_body(world, secretValue="v")), 422,
                                error="ValidationFailure")
            assert isinstance(body["message"], list) and body["message"][0]["path"] == ["secretName"]
        spaced = api.post(secret_url("  my key.v2 "), write_body(world, secretValue="v"))
        assert spaced.json["secret"]["secretKey"] == "my key.v2"
        q = {"workspaceId": pid(world), "environment": "dev"}
        assert api.get(secret_url("my key.v2"), query=q).status == 200
        assert api.get(secret_url("MY KEY.V2"), query=q).status == 404        # case-sensitive
        for name in ("recursive", "include_imports", "expandSecretReferences"):
            for bad in ("True", "1", "yes", ""):
                body = assert_error(api.get("/api/v3/secrets/raw", query={**q, name: bad}), 422)
                assert body["message"][0]["path"] == [name]
        assert_error(api.post(secret_url("T"), write_body(world, secretValue="v", type="secret")), 422)
        assert_error(api.post(secret_url("T"), write_body(world)), 422)             # secretValue required
        assert_error(api.post(secret_url("T"), write_body(world, secretValue=5)), 422)
        assert_error(api.patch(secret_url("my key.v2"), write_body(world, newSecretName="")), 400)

    def test_personal_for_identities_and_users(self, world, api):
        user = api.add_identity(actorType="user")
        api.control("POST", "projects", {"slug": "both", "members": [user["identityId"],
                                                                      world["identity"]["identityId"]]})
        project = api.get("/api/v1/projects/slug/both").json
        body = {"workspaceId": project["id"], "environment": "dev", "secretValue": "v", "type": "personal"}
        assert_error(api.post(secret_url("P"), body), 400, "Must be user to create personal secret")
        assert_error(api.delete(secret_url("P"), body), 400, "Must be user to delete personal secret")
        user_token = api.login(user)
        assert api.post(secret_url("P"), {**body, "type": "shared"}, token=user_token).status == 200
        made = api.post(secret_url("P"), {**body, "secretValue": "mine"}, token=user_token)
        assert made.status == 200 and made.json["secret"]["type"] == "personal"
        q = {"workspaceId": project["id"], "environment": "dev"}
        assert api.get(secret_url("P"), query={**q, "type": "personal"},
                       token=user_token).json["secret"]["secretValue"] == "mine"
        assert api.get(secret_url("P"), query=q, token=user_token).json["secret"]["secretValue"] == "v"
        assert_error(api.get(secret_url("P"), query={**q, "type": "personal"}), 404,
                     "Secret with name 'P' not found")

    def test_get_body_is_tolerated_and_trailing_slash(self, world, api):
        api.post(secret_url("G"), write_body(world, secretValue="v"))
        q = {"workspaceId": pid(world), "environment": "dev"}
        response = api.request("GET", "/api/v3/secrets/raw/", query=q, raw=b'{"workspaceId": "x"}',
                               headers={"Content-Type": "application/json"})
        assert response.status == 200 and [s["secretKey"] for s in response.json["secrets"]] == ["G"]

    def test_auto_capitalization(self, world, api):
        project = api.control("POST", "projects", {"slug": "caps", "autoCapitalization": True,
                                                   "members": [world["identity"]["identityId"]]})
        body = {"workspaceId": project["id"], "environment": "dev", "secretValue": "v"}
        assert_error(api.post(secret_url("lower"), body), 400)
        assert api.post(secret_url("UPPER"), body).status == 200

    def test_body_limit(self, world, api):
        big = "x" * (1024 * 1024 + 10)
        assert_error(api.post(secret_url("BIG"), write_body(world, secretValue=big)), 413)
        fits = "y" * (1024 * 1024 - 200)
        assert api.post(secret_url("FITS"), write_body(world, secretValue=fits)).status == 200


class TestFolderRules:
    def test_folder_errors(self, world, api):
        body = {"projectId": pid(world), "environment": "dev", "name": "f", "path": "/"}
        assert api.post("/api/v2/folders", body).status == 200
        assert_error(api.post("/api/v2/folders", body), 400, "Folder with name 'f' already exists in path '/'")
        assert_error(api.post("/api/v2/folders", {**body, "name": "has space"}), 422)
        assert_error(api.post("/api/v2/folders", {**body, "environment": "qa"}), 404)
        assert_error(api.get("/api/v2/folders", query={"projectId": pid(world), "environment": "qa",
                                                       "path": "/"}), 404)
        api.post(secret_url("IN_F"), write_body(world, secretPath="/f", secretValue="v"))
        delete_body = {"projectId": pid(world), "environment": "dev", "path": "/"}
        body = assert_error(api.delete("/api/v2/folders/f", delete_body), 400)
        assert body["message"].startswith('Cannot delete folder "f" because it contains resources.')
        assert_error(api.delete("/api/v2/folders/nope", delete_body), 404)
        assert api.delete("/api/v2/folders/f", {**delete_body, "forceDelete": True}).status == 200
        assert api.get("/api/v2/folders", query={"projectId": pid(world), "environment": "dev",
                                                 "path": "/"}).json == {"folders": []}

    def test_v1_folders(self, world, api):
        body = {"workspaceId": pid(world), "environment": "dev", "name": "old", "directory": "/x"}
        created = api.post("/api/v1/folders", body)
        assert created.status == 200 and created.json["folder"]["path"] == "/x/old"
        listed = api.get("/api/v1/folders", query={"workspaceId": pid(world), "environment": "dev",
                                                   "directory": "/x"}).json["folders"]
        assert [f["name"] for f in listed] == ["old"]
        api.post(secret_url("K"), write_body(world, secretPath="/x/old", secretValue="v"))
        # §6: v1 DELETE always deletes recursively
        assert api.delete("/api/v1/folders/x", {"workspaceId": pid(world), "environment": "dev",
                                                "directory": "/"}).status == 200
        assert api.get("/api/v1/folders", query={"workspaceId": pid(world), "environment": "dev",
                                                 "path": "/"}).json["folders"] == []


class TestControls:
    def test_faults_and_request_counts(self, world, api):
        api.control("DELETE", "requests")
        q = {"workspaceId": pid(world), "environment": "dev"}
        api.control("POST", "faults", {"method": "GET", "route": "/api/v3/secrets/raw", "status": 429,
                                       "count": 2, "headers": {"retry-after": "1"}})
        first = api.get("/api/v3/secrets/raw", query=q)
        assert_error(first, 429, "Rate limit exceeded. Please try again in 1 seconds", "RateLimitExceeded")
        assert first.headers["retry-after"] == "1"
        assert api.get("/api/v3/secrets/raw", query=q).status == 429
        assert api.get("/api/v3/secrets/raw", query=q).status == 200        # count used up
        api.control("POST", "faults", {"route": "/api/v3/secrets/raw/{secretName}", "status": 502,
                                       "body": {"custom": True}})
        response = api.get(secret_url("ANY"), query=q)
        assert (response.status, response.json) == (502, {"custom": True})
        api.control("POST", "faults", {"route": "*", "status": 500, "count": 0})   # 0 = until cleared
        assert_error(api.get("/api/v1/projects"), 500, "Something went wrong")
        assert_error(api.get("/api/v1/projects"), 500)
        api.control("DELETE", "faults")
        assert api.get("/api/v1/projects").status == 200
        counts = api.control("GET", "requests")
        assert counts["GET /api/v3/secrets/raw"] == 3
        assert counts["GET /api/v3/secrets/raw/{secretName}"] == 1
        assert counts["GET /api/v1/projects"] == 3

    def test_delay_and_hang(self, world, api):
        api.control("POST", "faults", {"route": "/api/v1/projects", "delaySeconds": 0.5})
        start = time.monotonic()
        assert api.get("/api/v1/projects").status == 200                     # delayed, then answered
        assert time.monotonic() - start >= 0.5
        api.control("POST", "faults", {"route": "/api/v1/projects", "delaySeconds": 3})
        import socket
        with pytest.raises((socket.timeout, TimeoutError)):
            api.get("/api/v1/projects", timeout=0.5)                          # a client timeout fires
        api.control("DELETE", "faults")

    def test_connection_faults(self, world, api):
        import http.client
        q = {"workspaceId": pid(world), "environment": "dev"}
        api.post(secret_url("K"), write_body(world, secretValue="old"))
        # reset: the request is read, never carried out, and the connection is aborted (RST).
        api.control("POST", "faults", {"method": "PATCH", "route": "/api/v3/secrets/raw/{secretName}",
                                       "action": "reset"})
        with pytest.raises(ConnectionResetError):
            api.patch(secret_url("K"), write_body(world, secretValue="lost"))
        assert api.get(secret_url("K"), query=q).json["secret"]["secretValue"] == "old"
        # close: no answer, a clean close; the client reads an empty reply.
        api.control("POST", "faults", {"route": "/api/v3/secrets/raw/{secretName}", "action": "close"})
        with pytest.raises(http.client.RemoteDisconnected):
            api.get(secret_url("K"), query=q)
        # processFirst: the change is made, then the answer is lost.
        api.control("POST", "faults", {"method": "PATCH", "route": "/api/v3/secrets/raw/{secretName}",
                                       "action": "reset", "processFirst": True})
        with pytest.raises(ConnectionResetError):
            api.patch(secret_url("K"), write_body(world, secretValue="applied"))
        got = api.get(secret_url("K"), query=q).json["secret"]
        assert (got["secretValue"], got["version"]) == ("applied", 2)
        # truncate: the real answer's Content-Length, half its body, then the end.
        api.control("POST", "faults", {"route": "/api/v3/secrets/raw/{secretName}", "action": "truncate"})
        with pytest.raises(http.client.IncompleteRead):
            api.get(secret_url("K"), query=q)
        # A fault with a status and truncate cuts that answer instead; with a delay, the cut comes late.
        api.control("POST", "faults", {"route": "/api/v1/projects", "status": 503, "action": "truncate",
                                       "delaySeconds": 0.3})
        start = time.monotonic()
        with pytest.raises(http.client.IncompleteRead):
            api.get("/api/v1/projects")
        assert time.monotonic() - start >= 0.3
        assert api.control("GET", "faults") == {"faults": []}
        assert api.request("POST", "/__test__/faults", body={"action": "explode"}).status == 400
        assert api.get("/api/v1/projects").status == 200
        assert api.control("GET", "requests")["PATCH /api/v3/secrets/raw/{secretName}"] == 2

    def test_seed_dump_restores_on_a_new_server(self, world, api, tmp_path):
        import json
        project = world["project"]
        api.post("/api/v2/folders", {"projectId": project["id"], "environment": "dev", "name": "empty"})
        api.post(secret_url("DEEP"), write_body(world, secretPath="/", secretValue="  trimmed  "))
        api.control("POST", "secrets", {"projectId": project["id"], "environment": "prod", "secretPath": "/a/b",
                                        "secretKey": "RAW", "secretValue": "  kept as given  ",
                                        "secretComment": "c"})
        api.control("POST", "identities", {"clientId": "static", "clientSecret": "s", "accessToken": "static-tok"})
        issued = api.control("GET", "tokens")["tokens"]
        assert api.token in issued and "static-tok" in issued
        seed = api.control("GET", "seed")
        path = tmp_path / "seed.json"
        path.write_text(json.dumps(seed))
        running = start_server("--seed", str(path))
        try:
            client = Api(running.base_url)
            client.token = client.login(world["identity"])
            q = {"workspaceId": project["id"], "environment": "prod", "secretPath": "/a/b"}
            got = client.get(secret_url("RAW"), query=q).json["secret"]
            assert (got["secretValue"], got["secretComment"]) == ("  kept as given  ", "c")
            dev = client.get(secret_url("DEEP"), query={"workspaceId": project["id"], "environment": "dev"})
            assert dev.json["secret"]["secretValue"] == "trimmed"
            folders = client.get("/api/v2/folders", query={"projectId": project["id"], "environment": "dev"})
            assert [f["name"] for f in folders.json["folders"]] == ["empty"]
            assert Api(running.base_url).get("/api/v1/projects", token="static-tok").status == 200
            # Tokens of the old server mean nothing to the new one.
            assert Api(running.base_url).get("/api/v1/projects", token=api.token).status == 401
            again = client.control("GET", "seed")
            assert again == seed
        finally:
            stop_server(running.process)

    def test_seed_file_and_sigterm(self, tmp_path):
        seed = {"identities": [{"identityId": "id-1", "clientId": "seeded", "clientSecret": "s3cret"}],
                "projects": [{"slug": "seeded", "id": "p-1", "members": ["id-1"], "environments": ["dev"]}],
                "secrets": [{"projectSlug": "seeded", "environment": "dev", "secretPath": "/deep/er",
                             "secretKey": "K", "secretValue": "seeded-value"}]}
        path = tmp_path / "seed.json"
        import json
        path.write_text(json.dumps(seed))
        running = start_server("--seed", str(path))
        try:
            client = Api(running.base_url)
            client.token = client.login({"clientId": "seeded", "clientSecret": "s3cret"})
            got = client.get(secret_url("K"), query={"workspaceId": "p-1", "environment": "dev",
                                                     "secretPath": "/deep/er"})
            assert got.json["secret"]["secretValue"] == "seeded-value"
            running.process.terminate()
            assert running.process.wait(timeout=5) == 0
        finally:
            stop_server(running.process)

    def test_keep_alive_connection_is_reused(self, world, server):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            start = time.monotonic()
            for _ in range(50):
                conn.request("GET", "/api/v1/projects", headers={"Authorization": f"Bearer {world['api'].token}"})
                response = conn.getresponse()
                response.read()
                assert response.status == 200 and response.version == 11
            # No Nagle/delayed-ACK stall: 50 requests on one connection stay far below 50 × 40 ms.
            assert time.monotonic() - start < 1.5
        finally:
            conn.close()
