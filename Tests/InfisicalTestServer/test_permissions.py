"""Read permissions (`POST /__test__/permissions`) and what the real server answers when they
bite (secret-v2-bridge-service.ts `getSecrets` / `getSecretByName`, secret-reference-fns.ts
`expandSecretReferencesFactory`, permission-fns.ts, the error handler):

* a list leaves out secrets the identity may not describe; a secret of the listed folder whose
  value it may not read makes the list a 403 `PermissionDenied`;
* a get in a folder it may not describe is a 403 `PermissionDenied` (even for a missing name); a
  value it may not read is a 403 `ForbiddenReadSecretError`;
* an expansion that reaches a folder it may not read: a get answers that refusal (403
  `ForbiddenError`, naming both secrets); a list answers 403 `ForbiddenError` "Failed to expand
  one or more secret references" with each refusal in `details`.

infisical_sdk makes the reads (it expands and includes imports by default); plain HTTP checks
the bodies it does not show.
"""

import pytest

from conftest import assert_error, secret_url

infisical_sdk = pytest.importorskip("infisical_sdk")
infisical_client = pytest.importorskip("infisical_client")
from infisical_client import (  # noqa: E402
    AuthenticationOptions, ClientSettings, InfisicalClient, ListSecretsOptions, UniversalAuthMethod,
)
from infisical_sdk import InfisicalSDKClient  # noqa: E402
from infisical_sdk.infisical_requests import APIError  # noqa: E402

EXPAND_FAILED = "Failed to expand one or more secret references"


def refusal(key, env, path, by, by_env="dev", by_path="/"):
    return (f"You do not have permission to read secret '{key}' in environment '{env}' at path '{path}', "
            f"which is referenced by secret '{by}' in environment '{by_env}' at path '{by_path}'.")


@pytest.fixture
def seeded(world, api):
    """prod /private holds DB_PASS; dev / has URL referencing it, PLAIN, and LOCAL=${PLAIN}."""
    pid = world["project"]["id"]
    api.seed_secret(pid, "DB_PASS", "s3cret", environment="prod", path="/private")
    api.seed_secret(pid, "SUB", "deeper", environment="prod", path="/private/sub")
    api.seed_secret(pid, "OPEN", "o", environment="prod")
    api.seed_secret(pid, "URL", "pg://${prod.private.DB_PASS}/x")
    api.seed_secret(pid, "PLAIN", "v")
    api.seed_secret(pid, "LOCAL", "${PLAIN}")
    return pid


@pytest.fixture
def pysdk(world, server):
    client = InfisicalSDKClient(host=server.base_url, cache_ttl=None)
    client.auth.universal_auth.login(client_id=world["identity"]["clientId"],
                                     client_secret=world["identity"]["clientSecret"])
    yield client
    client.close()


def deny(api, world, environment, path, actions, identity=None):
    return api.control("POST", "permissions", {"identityId": (identity or world["identity"])["identityId"],
                                               "projectId": world["project"]["id"], "environment": environment,
                                               "secretPath": path, "deny": actions})


def listing(pysdk, pid, environment="dev", path="/", **kw):
    return pysdk.secrets.list_secrets(environment_slug=environment, secret_path=path, project_id=pid, **kw)


def sdk_error(call):
    with pytest.raises(APIError) as raised:
        call()
    return raised.value


class TestExpansionIntoADeniedFolder:
    def test_a_list_is_refused_whole_with_each_refusal_in_details(self, world, api, pysdk, seeded):
        deny(api, world, "prod", "/private", ["read"])
        api.seed_secret(seeded, "ALSO", "${prod.private.SUB2} ${prod.private.DB_PASS}", path="/")
        error = sdk_error(lambda: listing(pysdk, seeded))            # the SDK expands by default
        assert error.status_code == 403
        assert error.response["error"] == "ForbiddenError" and error.response["message"] == EXPAND_FAILED
        assert sorted(error.response["details"]) == sorted([refusal("DB_PASS", "prod", "/private", "URL"),
                                                            refusal("SUB2", "prod", "/private", "ALSO")])
        raw = listing(pysdk, seeded, expand_secret_references=False)  # without expansion: the stored values
        assert {s.secretKey: s.secretValue for s in raw.secrets}["URL"] == "pg://${prod.private.DB_PASS}/x"
        q = {"workspaceId": seeded, "environment": "dev", "expandSecretReferences": "true"}
        body = assert_error(api.get("/api/v3/secrets/raw", query=q), 403, EXPAND_FAILED, "ForbiddenError")
        assert set(body) == {"reqId", "statusCode", "message", "error", "details"}

    def test_a_get_answers_the_refusal_itself(self, world, api, pysdk, seeded):
        deny(api, world, "prod", "/private", ["readValue"])
        error = sdk_error(lambda: pysdk.secrets.get_secret_by_name(secret_name="URL", environment_slug="dev",
                                                                   secret_path="/", project_id=seeded))
        assert (error.status_code, error.response["error"]) == (403, "ForbiddenError")
        assert error.response["message"] == refusal("DB_PASS", "prod", "/private", "URL")
        assert "details" not in error.response
        assert pysdk.secrets.get_secret_by_name(secret_name="LOCAL", environment_slug="dev", secret_path="/",
                                                project_id=seeded).secretValue == "v"
        raw = pysdk.secrets.get_secret_by_name(secret_name="URL", environment_slug="dev", secret_path="/",
                                               project_id=seeded, expand_secret_references=False)
        assert raw.secretValue == "pg://${prod.private.DB_PASS}/x"

    def test_the_refusal_names_the_root_secret_and_counts_missing_targets(self, world, api, seeded):
        deny(api, world, "prod", "/private/**", ["read"])
        api.seed_secret(seeded, "HOP", "${prod.OPEN}-${prod.private.sub.SUB}", environment="staging", path="/app")
        api.seed_secret(seeded, "VIA", "${staging.app.HOP}")
        api.seed_secret(seeded, "GHOST", "${prod.private.NOPE}")                 # missing, yet refused
        q = {"workspaceId": seeded, "environment": "dev", "expandSecretReferences": "true"}
        assert_error(api.get(secret_url("VIA"), query=q), 403,
                     refusal("SUB", "prod", "/private/sub", "VIA"), "ForbiddenError")
        assert_error(api.get(secret_url("GHOST"), query=q), 403, refusal("NOPE", "prod", "/private", "GHOST"))
        api.control("DELETE", "permissions")
        assert api.get(secret_url("VIA"), query=q).json["secret"]["secretValue"] == "o-deeper"
        assert api.get(secret_url("GHOST"), query=q).json["secret"]["secretValue"] == "${prod.private.NOPE}"

    def test_describe_alone_does_not_stop_an_expansion(self, world, api, pysdk, seeded):
        deny(api, world, "prod", "/private", ["describeSecret"])
        values = {s.secretKey: s.secretValue for s in listing(pysdk, seeded).secrets}
        assert values["URL"] == "pg://s3cret/x"

    def test_imported_values_are_always_expanded_in_a_list_and_left_raw_when_refused(self, world, api, pysdk, seeded):
        api.seed_secret(seeded, "SHARED", "${prod.private.DB_PASS}!", environment="staging")
        api.seed_secret(seeded, "NICE", "${OPEN_TOO}", environment="staging")
        api.seed_secret(seeded, "OPEN_TOO", "fine", environment="staging")
        api.control("POST", "imports", {"projectId": seeded, "environment": "dev", "importEnvironment": "staging"})
        listed = listing(pysdk, seeded, expand_secret_references=False, include_imports=True)
        assert {s["secretKey"]: s["secretValue"] for s in listed.imports[0].secrets} == {
            "SHARED": "s3cret!", "NICE": "fine", "OPEN_TOO": "fine"}          # expanded although not asked
        deny(api, world, "prod", "/private", ["read"])
        listed = listing(pysdk, seeded, expand_secret_references=False, include_imports=True)
        assert {s["secretKey"]: s["secretValue"] for s in listed.imports[0].secrets}["SHARED"] == \
            "${prod.private.DB_PASS}!"


class TestDeniedFolders:
    def test_a_folder_it_may_not_read_lists_empty_and_gets_are_refused(self, world, api, pysdk, seeded):
        deny(api, world, "prod", "/private", ["read"])
        assert listing(pysdk, seeded, "prod", "/private").secrets == []            # left out, not refused
        recursive = listing(pysdk, seeded, "prod", "/", recursive=True)
        assert sorted(s.secretKey for s in recursive.secrets) == ["OPEN", "SUB"]    # exact path: /private only
        error = sdk_error(lambda: pysdk.secrets.get_secret_by_name(secret_name="DB_PASS", environment_slug="prod",
                                                                   secret_path="/private", project_id=seeded))
        assert (error.status_code, error.response["error"]) == (403, "PermissionDenied")
        assert error.response["message"] == "You are not allowed to describeSecret on secrets"
        rule = error.response["details"][0]
        assert rule["inverted"] is True and rule["conditions"]["secretPath"] == {"$glob": "/private"}
        q = {"workspaceId": seeded, "environment": "prod", "secretPath": "/private"}
        assert_error(api.get(secret_url("MISSING"), query=q), 403, "You are not allowed to describeSecret on secrets")

    def test_values_it_may_not_read(self, world, api, pysdk, seeded):
        deny(api, world, "prod", "/private/**", ["readValue"])
        error = sdk_error(lambda: listing(pysdk, seeded, "prod", "/private"))
        assert (error.status_code, error.response["error"]) == (403, "PermissionDenied")
        assert error.response["message"] == "You are not allowed to readValue on secrets"
        assert [s.secretKey for s in listing(pysdk, seeded, "prod", "/", recursive=True).secrets] == ["OPEN"]
        hidden = listing(pysdk, seeded, "prod", "/private", view_secret_value=False).secrets
        assert [(s.secretKey, s.secretValue, s.secretValueHidden) for s in hidden] == [
            ("DB_PASS", "<hidden-by-infisical>", True)]
        q = {"workspaceId": seeded, "environment": "prod", "secretPath": "/private"}
        assert_error(api.get(secret_url("DB_PASS"), query=q), 403,
                     "You do not have permission to view secret value on secret with name 'DB_PASS'",
                     "ForbiddenReadSecretError")
        assert_error(api.get(secret_url("NOPE"), query=q), 404, "Secret with name 'NOPE' not found")
        shown = api.get(secret_url("DB_PASS"), query={**q, "viewSecretValue": "false"}).json["secret"]
        assert (shown["secretValue"], shown["secretValueHidden"]) == ("<hidden-by-infisical>", True)

    def test_imports_of_a_denied_folder(self, world, api, pysdk, seeded):
        api.control("POST", "imports", {"projectId": seeded, "environment": "dev", "importEnvironment": "prod",
                                        "importPath": "/private"})
        deny(api, world, "prod", "/private", ["readValue"])
        listed = listing(pysdk, seeded, expand_secret_references=False)       # include_imports by default
        assert listed.imports[0].secrets == []
        q = {"workspaceId": seeded, "environment": "dev", "include_imports": "true"}
        assert_error(api.get(secret_url("DB_PASS"), query=q), 403,
                     "You do not have permission to view secret import value on secret with name 'DB_PASS'",
                     "ForbiddenReadSecretError")
        api.control("DELETE", "permissions")
        deny(api, world, "prod", "/private", ["describeSecret"])
        assert_error(api.get(secret_url("DB_PASS"), query=q), 404)             # not found among what it may see


class TestScopeAndControls:
    def test_rules_bind_one_identity_project_and_environment(self, world, api, server, seeded):
        other = api.add_identity()
        api.control("POST", "projects", {"slug": "shared-too", "members": [other["identityId"]]})
        api.control("POST", "permissions", {"identityId": other["identityId"], "projectId": seeded,
                                            "environment": "prod", "secretPath": "/**", "deny": ["read"]})
        deny(api, world, "staging", "/**", ["read"])
        client = InfisicalSDKClient(host=server.base_url, cache_ttl=None)
        client.auth.universal_auth.login(client_id=world["identity"]["clientId"],
                                         client_secret=world["identity"]["clientSecret"])
        assert [s.secretValue for s in listing(client, seeded).secrets if s.secretKey == "URL"] == ["pg://s3cret/x"]
        client.close()
        q = {"workspaceId": seeded, "environment": "prod", "secretPath": "/private"}
        assert api.get(secret_url("DB_PASS"), query=q).status == 200

    def test_writes_referencing_a_secret_it_may_not_describe(self, world, api, seeded):
        deny(api, world, "prod", "/private", ["describeSecret"])
        body = {"workspaceId": seeded, "environment": "dev", "secretValue": "${prod.private.DB_PASS}"}
        assert_error(api.post(secret_url("NEW"), body), 403, "You are not allowed to describeSecret on secrets",
                     "PermissionDenied")
        assert api.post(secret_url("NEW"), {**body, "secretValue": "${prod.private.MISSING}"}).status == 200
        assert_error(api.patch(secret_url("PLAIN"), {**body}), 403)

    def test_a_move_out_of_a_folder_it_may_not_read(self, world, api, seeded):
        deny(api, world, "prod", "/private", ["read"])
        q = {"workspaceId": seeded, "environment": "prod", "secretPath": "/private"}
        api.control("DELETE", "permissions")
        secret_id = api.get(secret_url("DB_PASS"), query=q).json["secret"]["id"]
        deny(api, world, "prod", "/private", ["read"])
        body = {"projectId": seeded, "sourceEnvironment": "prod", "sourceSecretPath": "/private",
                "destinationEnvironment": "dev", "secretIds": [secret_id]}
        assert_error(api.post("/api/v4/secrets/move", body), 403, "You are not allowed to readValue on secrets",
                     "PermissionDenied")

    def test_the_control(self, world, api, seeded):
        rule = deny(api, world, "prod", "/private/**", ["describeSecret", "readValue"])
        assert set(rule) == {"id", "identityId", "projectId", "environment", "secretPath", "deny"}
        assert api.control("GET", "permissions") == {"permissions": [rule]}
        for bad in ({"deny": []}, {"deny": ["write"]}, {"environment": ""}, {"secretPath": "private"}):
            body = {"identityId": world["identity"]["identityId"], "projectId": seeded, "environment": "prod",
                    "secretPath": "/", "deny": ["read"], **bad}
            assert api.request("POST", "/__test__/permissions", body=body).status == 400, bad
        assert api.request("POST", "/__test__/permissions", body={
            "identityId": "nobody", "projectSlug": world["project"]["slug"], "environment": "prod",
            "deny": ["read"]}).status == 404
        api.control("POST", "reset")
        assert api.control("GET", "permissions") == {"permissions": []}

    def test_the_rust_sdk_meets_the_refusal(self, world, api, server, seeded):
        deny(api, world, "prod", "/private", ["read"])
        rust = InfisicalClient(ClientSettings(site_url=server.base_url, cache_ttl=0, auth=AuthenticationOptions(
            universal_auth=UniversalAuthMethod(client_id=world["identity"]["clientId"],
                                               client_secret=world["identity"]["clientSecret"]))))
        with pytest.raises(Exception) as raised:
            rust.listSecrets(ListSecretsOptions(environment="dev", project_id=seeded))
        # The Rust core passes the body on: "Received error message from server: (status 403 Forbidden), {…}".
        assert "status 403" in str(raised.value) and EXPAND_FAILED in str(raised.value)
        assert refusal("DB_PASS", "prod", "/private", "URL") in str(raised.value)


class TestExpansionRules:
    """The expansion rules Infisical's own API tests pin (tests/suites/secretmanager/secrets/
    reference_test.go, TestSecretReference_Expand), read through infisical_sdk (which expands)."""

    def test_what_expands_and_what_stays_literal(self, world, api, pysdk):
        pid = world["project"]["id"]
        seeds = [("dev", "/", "HELLO", "world"), ("dev", "/", "GREETING", "hello ${HELLO}"),
                 ("dev", "/deep/nested", "NESTED_KEY", "nested"), ("prod", "/", "PROD_KEY", "prod"),
                 ("dev", "/", "COMBINED", "${dev.deep.nested.NESTED_KEY}+${prod.PROD_KEY}"),
                 ("dev", "/", "HOST", "db"), ("dev", "/", "PORT", "5432"),
                 ("dev", "/", "URL", "${HOST}:${PORT}/${HOST}"),
                 ("dev", "/", "C", "end"), ("dev", "/", "B", "${C}"), ("dev", "/", "A", "${B}"),
                 ("dev", "/", "EMPTY", ""), ("dev", "/", "BRACKETED", "[${EMPTY}]"),
                 ("dev", "/", "MY KEY", "spaced"), ("dev", "/", "REF", "${MY KEY}"),
                 ("dev", "/", "PASSWORD", "p$&ss$1$$"), ("dev", "/", "DSN", "user:${PASSWORD}@db"),
                 ("dev", "/", "DANGLING", "${MISSING} ${dev.nope.KEY} ${qa.KEY}"),
                 ("dev", "/", "PADDED", "${ HELLO }"), ("dev", "/", "X", "${Y}"), ("dev", "/", "Y", "${X}")]
        for environment, path, key, value in seeds:
            api.seed_secret(pid, key, value, environment=environment, path=path)
        api.seed_secret(pid, "PEM", "line1\nline2")
        api.seed_secret(pid, "PEM_REF", "${PEM}", skipMultilineEncoding=True)
        got = {s.secretKey: s.secretValue for s in listing(pysdk, pid).secrets}
        expected = {"GREETING": "hello world", "COMBINED": "nested+prod", "URL": "db:5432/db", "A": "end",
                    "BRACKETED": "[]", "REF": "spaced", "DSN": "user:p$&ss$1$$@db",
                    "DANGLING": "${MISSING} ${dev.nope.KEY} ${qa.KEY}", "PADDED": "${ HELLO }",
                    "PEM_REF": '"line1\\nline2"'}
        for key, value in expected.items():
            assert got[key] == value, key
            single = pysdk.secrets.get_secret_by_name(secret_name=key, environment_slug="dev", secret_path="/",
                                                      project_id=pid)
            assert single.secretValue == value, key                         # a get agrees with the list
        assert "${" in got["X"]                                              # a cycle stays a reference
        raw = pysdk.secrets.get_secret_by_name(secret_name="GREETING", environment_slug="dev", secret_path="/",
                                               project_id=pid, expand_secret_references=False)
        assert raw.secretValue == "hello ${HELLO}"

    def test_chains_stop_at_depth_ten(self, world, api, pysdk):
        pid = world["project"]["id"]
        for prefix, length in (("WITHIN", 12), ("BEYOND", 13)):
            api.seed_secret(pid, f"{prefix}{length}", "end")
            for i in range(length - 1, 0, -1):
                api.seed_secret(pid, f"{prefix}{i}", "${" + f"{prefix}{i + 1}" + "}")
        got = {s.secretKey: s.secretValue for s in listing(pysdk, pid).secrets}
        assert (got["WITHIN1"], got["BEYOND1"]) == ("end", "${BEYOND13}")
