"""Projects of other types (events-and-limits §3), the slug look-up's validation (§4) and the
server options (`POST /__test__/options`).

Secret and folder calls on a project of another product answer 400 "The project is of type
<t>. Operations of type secret-manager are not allowed." (permission-service.ts
`getProjectPermission`); the official SDKs meet that answer through their own calls. The
project list and slug routes have no SDK call, so plain HTTP checks them.
"""

import uuid

import pytest

from conftest import Api, assert_error, secret_url

infisical_sdk = pytest.importorskip("infisical_sdk")
infisical_client = pytest.importorskip("infisical_client")
from infisical_client import (  # noqa: E402
    AuthenticationOptions, ClientSettings, GetSecretOptions, InfisicalClient, UniversalAuthMethod,
)
from infisical_sdk import InfisicalSDKClient  # noqa: E402
from infisical_sdk.infisical_requests import APIError  # noqa: E402

TYPES = ["secret-manager", "cert-manager", "kms", "ssh", "secret-scanning", "pam"]


def wrong_type(project_type):
    return f"The project is of type {project_type}. Operations of type secret-manager are not allowed."


@pytest.fixture
def typed(world):
    """One project of every type, all with the world's identity as a member (and dev envs)."""
    api = world["api"]
    made = {"secret-manager": world["project"]}
    for project_type in TYPES[1:]:
        made[project_type] = api.control("POST", "projects", {
            "slug": f"{project_type}-{uuid.uuid4().hex[:6]}", "type": project_type, "environments": ["dev"],
            "members": [world["identity"]["identityId"]]})
    return made


class TestProjectTypes:
    def test_the_list_returns_every_type_by_default_and_filters_by_type(self, world, typed, api):
        listed = api.get("/api/v1/projects").json["projects"]
        assert sorted(p["type"] for p in listed) == sorted(TYPES)
        assert all("roles" not in p for p in listed)
        for project_type in TYPES:
            only = api.get("/api/v1/projects", query={"type": project_type}).json["projects"]
            assert [p["id"] for p in only] == [typed[project_type]["id"]]
        with_roles = api.get("/api/v1/projects", query={"type": "secret-manager", "includeRoles": "true"})
        assert with_roles.json["projects"][0]["roles"] == []
        assert api.get("/api/v1/projects", query={"includeRoles": "false"}).status == 200
        for bad in ("secrets", "", "KMS"):
            body = assert_error(api.get("/api/v1/projects", query={"type": bad}), 422, error="ValidationFailure")
            (issue,) = body["message"]
            assert issue["path"] == ["type"] and issue["code"] == "invalid_enum_value"
            assert issue["options"] == TYPES
        body = assert_error(api.get("/api/v1/projects", query={"includeRoles": "yes"}), 422)
        assert body["message"][0]["path"] == ["includeRoles"]

    def test_an_older_server_ignores_the_type_query(self, world, typed, api):
        assert api.control("POST", "options", {"ignoreProjectTypeQuery": True}) == {
            "ignoreProjectTypeQuery": True, "moveRoute": True, "legacyExistMessages": False}
        listed = api.get("/api/v1/projects", query={"type": "secret-manager"}).json["projects"]
        assert len(listed) == len(TYPES)
        assert api.get("/api/v1/projects", query={"type": "nonsense"}).status == 200
        api.control("POST", "reset")
        assert api.control("GET", "options")["ignoreProjectTypeQuery"] is False
        assert api.request("POST", "/__test__/options", body={"moveRoute": "no"}).status == 400
        assert api.request("POST", "/__test__/options", body={"unknown": True}).status == 400

    def test_the_sdks_meet_the_wrong_type_on_secret_routes(self, world, typed, server):
        kms = typed["kms"]
        pysdk = InfisicalSDKClient(host=server.base_url, cache_ttl=None)
        pysdk.auth.universal_auth.login(client_id=world["identity"]["clientId"],
                                        client_secret=world["identity"]["clientSecret"])
        kw = dict(environment_slug="dev", secret_path="/", project_id=kms["id"])
        calls = [lambda: pysdk.secrets.list_secrets(**kw),
                 lambda: pysdk.secrets.get_secret_by_name(secret_name="K", **kw),
                 lambda: pysdk.secrets.create_secret_by_name(secret_name="K", secret_value="v", **kw),
                 lambda: pysdk.secrets.update_secret_by_name(current_secret_name="K", secret_value="v", **kw),
                 lambda: pysdk.secrets.delete_secret_by_name(secret_name="K", **kw),
                 lambda: pysdk.folders.create_folder(name="f", environment_slug="dev", project_id=kms["id"]),
                 lambda: pysdk.folders.list_folders(project_id=kms["id"], environment_slug="dev", path="/")]
        for call in calls:
            with pytest.raises(APIError) as raised:
                call()
            assert raised.value.status_code == 400 and raised.value.response["message"] == wrong_type("kms")
            assert raised.value.response["error"] == "BadRequest"
        pysdk.close()
        rust = InfisicalClient(ClientSettings(site_url=server.base_url, cache_ttl=0, auth=AuthenticationOptions(
            universal_auth=UniversalAuthMethod(client_id=world["identity"]["clientId"],
                                               client_secret=world["identity"]["clientSecret"]))))
        with pytest.raises(Exception) as raised:
            rust.getSecret(GetSecretOptions(environment="dev", project_id=typed["pam"]["id"], secret_name="K"))
        assert str(raised.value) == f"[Bad request]: {wrong_type('pam')}"

    def test_every_secret_and_folder_route_checks_the_type(self, world, typed, api):
        for project_type in TYPES[1:]:
            project = typed[project_type]
            q = {"workspaceId": project["id"], "environment": "dev"}
            body = {**q, "secretValue": "v"}
            for response in (api.get("/api/v3/secrets/raw", query=q),
                             api.get("/api/v3/secrets/raw", query={"workspaceSlug": project["slug"],
                                                                   "environment": "dev"}),
                             api.get(secret_url("K"), query=q),
                             api.post(secret_url("K"), body),
                             api.post(secret_url("K"), {"projectSlug": project["slug"], "environment": "dev",
                                                        "secretValue": "v"}),
                             api.patch(secret_url("K"), body),
                             api.delete(secret_url("K"), q),
                             api.get("/api/v2/folders", query={"projectId": project["id"], "environment": "dev"}),
                             api.post("/api/v2/folders", {"projectId": project["id"], "environment": "dev",
                                                          "name": "f"}),
                             api.get("/api/v1/folders", query={"workspaceId": project["id"], "environment": "dev"})):
                assert_error(response, 400, wrong_type(project_type), "BadRequest")
            # The project itself is still readable: those routes act for any product.
            assert api.get(f"/api/v1/projects/{project['id']}").json["project"]["type"] == project_type
            assert api.get(f"/api/v1/projects/slug/{project['slug']}").json["type"] == project_type

    def test_the_type_is_checked_before_membership(self, world, api):
        stranger = api.control("POST", "projects", {"slug": "not-mine-kms", "type": "kms"})
        assert_error(api.get("/api/v3/secrets/raw", query={"workspaceId": stranger["id"], "environment": "dev"}),
                     400, wrong_type("kms"))
        mine = api.control("POST", "projects", {"slug": "not-mine-sm"})
        assert_error(api.get("/api/v3/secrets/raw", query={"workspaceId": mine["id"], "environment": "dev"}),
                     403, error="ProjectMembershipNotFound")
        assert api.request("POST", "/__test__/projects", body={"slug": "x", "type": "vault"}).status == 400
        assert api.control("POST", "projects", {"slug": "no-envs", "type": "ssh"})["environments"] == []

    def test_the_seed_keeps_the_type(self, world, typed, api):
        seeded = {p["slug"]: p["type"] for p in api.control("GET", "seed")["projects"]}
        assert sorted(seeded.values()) == sorted(TYPES)


SLUG_ISSUE = {"code": "custom", "message": "Slug field can only contain lowercase letters, numbers, and hyphens",
              "path": ["slug"]}


class TestSlugLookup:
    def test_auth_comes_first(self, world, server):
        assert_error(Api(server.base_url).get("/api/v1/projects/slug/.Trash-1000"), 401, "Token missing")
        assert_error(Api(server.base_url).get("/api/v1/projects/slug/valid"), 401, "Token missing")

    @pytest.mark.parametrize("slug", [".Trash-1000", "MyProj", "my_proj", ".git", "a--b", "-a", "a-", "x.y",
                                      "caf%C3%A9", "a%2Fb", "UPPER"])
    def test_what_is_not_a_slug_is_422_with_one_issue(self, world, api, slug):
        response = api.get("/api/v1/projects/slug/" + slug)
        body = assert_error(response, 422, error="ValidationFailure")
        assert set(body) == {"reqId", "statusCode", "message", "error"}
        assert body["message"] == [SLUG_ISSUE]

    def test_length_and_trimming(self, world, api):
        body = assert_error(api.get("/api/v1/projects/slug/" + "a" * 65), 422)
        assert body["message"] == [{"code": "too_big", "maximum": 64, "type": "string", "inclusive": True,
                                    "exact": False, "message": "Slug field must be at most 64 lowercase characters",
                                    "path": ["slug"]}]
        body = assert_error(api.get("/api/v1/projects/slug/%20%20"), 422)
        assert [i["code"] for i in body["message"]] == ["too_small"]
        assert body["message"][0]["message"] == "Slug field must be at least 1 lowercase character"
        assert_error(api.get("/api/v1/projects/slug/" + "a" * 64), 404, error="NotFound")
        slug = world["project"]["slug"]
        assert api.get(f"/api/v1/projects/slug/%20{slug}%20").json["id"] == world["project"]["id"]   # trimmed

    def test_a_valid_unknown_slug_is_404_and_a_known_one_the_project(self, world, api):
        assert_error(api.get("/api/v1/projects/slug/no-such-project"), 404,
                     "Project with slug 'no-such-project' not found", "NotFound")
        got = api.get("/api/v1/projects/slug/" + world["project"]["slug"]).json
        assert got["id"] == world["project"]["id"] and "project" not in got          # unwrapped
