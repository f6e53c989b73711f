"""Moving secrets (events-and-limits §6): `POST /api/v4/secrets/move` and `/api/v3/secrets/move`,
the references the real server rewrites after a move or a rename, seeded tags and metadata, and
the option that plays a server without the route.

Neither SDK has a move call, so the moves go over plain HTTP; infisical_sdk then reads what the
move left behind (values, comments, versions, tags, metadata), as a client would.
"""

import pytest

from conftest import Api, assert_error, secret_url

infisical_sdk = pytest.importorskip("infisical_sdk")
from infisical_sdk import InfisicalSDKClient  # noqa: E402
from infisical_sdk.infisical_requests import APIError  # noqa: E402

MOVE = "/api/v4/secrets/move"


@pytest.fixture
def pysdk(world, server):
    client = InfisicalSDKClient(host=server.base_url, cache_ttl=None)
    client.auth.universal_auth.login(client_id=world["identity"]["clientId"],
                                     client_secret=world["identity"]["clientSecret"])
    yield client
    client.close()


def move_body(world, ids, **extra):
    return {"projectId": world["project"]["id"], "sourceEnvironment": "dev", "destinationEnvironment": "prod",
            "secretIds": ids, **extra}


def get(pysdk, world, name, environment="prod", path="/"):
    return pysdk.secrets.get_secret_by_name(secret_name=name, environment_slug=environment, secret_path=path,
                                            project_id=world["project"]["id"], expand_secret_references=False,
                                            include_imports=False)


def keys(pysdk, world, environment, path="/"):
    listed = pysdk.secrets.list_secrets(environment_slug=environment, secret_path=path,
                                        project_id=world["project"]["id"], expand_secret_references=False,
                                        include_imports=False)
    return sorted(s.secretKey for s in listed.secrets)


class TestMove:
    def test_a_new_destination_secret_copies_all_but_tags_and_history(self, world, api, pysdk):
        pid = world["project"]["id"]
        api.control("POST", "secrets", {"projectId": pid, "environment": "prod", "secretPath": "/app",
                                        "secretKey": "PLACEHOLDER", "secretValue": "p"})
        source = api.seed_secret(pid, "DB_URL", "postgres://db", secretComment="the db", tags=["ops", "db"],
                                 secretMetadata=[{"key": "owner", "value": "team-a"}], skipMultilineEncoding=True,
                                 secretReminderNote="rotate", secretReminderRepeatDays=30)
        assert [t["slug"] for t in get(pysdk, world, "DB_URL", "dev").tags] == ["ops", "db"]
        api.patch(secret_url("DB_URL"), {"workspaceId": pid, "environment": "dev", "secretValue": "postgres://db2"})
        moved = api.post(MOVE, move_body(world, [source["id"]], destinationSecretPath="/app/"))   # trailing / ok
        assert (moved.status, moved.json) == (200, {"isSourceUpdated": True, "isDestinationUpdated": True})
        copy = get(pysdk, world, "DB_URL", path="/app")
        assert copy.id != source["id"] and copy.version == 1                 # inserted: new id, version 1
        assert (copy.secretValue, copy.secretComment, copy.skipMultilineEncoding) == ("postgres://db2", "the db", True)
        assert (copy.secretReminderNote, copy.secretReminderRepeatDays) == ("rotate", 30)
        assert copy.tags == [] and copy.secretPath == "/app"                 # tags are not copied
        assert copy.secretMetadata == [{"key": "owner", "value": "team-a", "isEncrypted": False}]
        with pytest.raises(APIError) as raised:                              # the history did not come along
            pysdk.secrets.get_secret_by_name(secret_name="DB_URL", environment_slug="prod", secret_path="/app",
                                             project_id=pid, version=2)
        assert raised.value.status_code == 404
        assert keys(pysdk, world, "dev") == []                               # the source is gone
        with pytest.raises(APIError) as raised:
            get(pysdk, world, "DB_URL", "dev")
        assert raised.value.status_code == 404

    def test_v3_takes_the_project_slug(self, world, api, pysdk):
        source = api.seed_secret(world["project"]["id"], "K", "v")
        body = {**move_body(world, [source["id"]]), "projectSlug": world["project"]["slug"]}
        del body["projectId"]
        assert api.post("/api/v3/secrets/move", body).json == {"isSourceUpdated": True, "isDestinationUpdated": True}
        assert get(pysdk, world, "K").secretValue == "v"
        assert_error(api.post("/api/v3/secrets/move", {**body, "projectSlug": "nope"}), 404,
                     "Project with slug 'nope' not found", "NotFound")
        # v4 with an unknown id: the real server names the (absent) slug.
        assert_error(api.post(MOVE, move_body(world, [source["id"]], projectId="no-such-id")), 404,
                     "Project with slug 'undefined' not found")
        body = assert_error(api.post("/api/v3/secrets/move", move_body(world, [source["id"]])), 422)
        assert body["message"][0]["path"] == ["projectSlug"]

    def test_refusals_change_nothing(self, world, api, pysdk):
        pid = world["project"]["id"]
        a = api.seed_secret(pid, "A", "from-dev")
        b = api.seed_secret(pid, "B", "same")
        api.seed_secret(pid, "A", "from-prod", environment="prod")
        api.seed_secret(pid, "B", "same", environment="prod")
        personal = api.seed_secret(pid, "P", "mine", type="personal", userId="someone")
        assert_error(api.post(MOVE, move_body(world, [a["id"]], sourceSecretPath="/missing")), 404,
                     "Source folder with path '/missing' in environment with slug 'dev' not found", "NotFound")
        assert_error(api.post(MOVE, move_body(world, [a["id"]], destinationSecretPath="/nope")), 404,
                     "Destination folder with path '/nope' in environment with slug 'prod' not found")
        assert_error(api.post(MOVE, move_body(world, [a["id"]], destinationEnvironment="qa")), 404,
                     "Destination folder with path '/' in environment with slug 'qa' not found")
        for ids in ([a["id"], "no-such-id"], [personal["id"]], [a["id"], a["id"]]):
            assert_error(api.post(MOVE, move_body(world, ids)), 400, "Invalid secrets", "BadRequest")
        assert_error(api.post(MOVE, move_body(world, [a["id"], b["id"]])), 400,
                     "Failed to move secrets. The following secrets already exist in the destination: A")
        assert_error(api.post(MOVE, move_body(world, [b["id"]])), 400,
                     "Selected secrets already exist in the destination.")
        assert_error(api.post(MOVE, move_body(world, [])), 400, "Selected secrets already exist in the destination.")
        assert keys(pysdk, world, "dev") == ["A", "B"]
        assert get(pysdk, world, "A").secretValue == "from-prod" and get(pysdk, world, "A").version == 1

    def test_overwrite_updates_in_place(self, world, api, pysdk):
        pid = world["project"]["id"]
        a = api.seed_secret(pid, "A", "from-dev", secretComment="dev comment", tags=["src"])
        b = api.seed_secret(pid, "B", "same")
        target = api.seed_secret(pid, "A", "from-prod", environment="prod", secretComment="prod comment",
                                 tags=["kept"])
        api.seed_secret(pid, "B", "same", environment="prod")
        moved = api.post(MOVE, move_body(world, [a["id"], b["id"]], shouldOverwrite=True))
        assert moved.status == 200
        got = get(pysdk, world, "A")
        assert (got.id, got.version, got.secretValue, got.secretComment) == (target["id"], 2, "from-dev", "dev comment")
        assert [t["slug"] for t in got.tags] == ["kept"]                       # the destination's own tags
        assert keys(pysdk, world, "dev") == []          # B had the same value: not rewritten, still removed
        assert get(pysdk, world, "B").version == 1

    def test_ids_are_not_checked_against_the_source_folder(self, world, api, pysdk):
        elsewhere = api.seed_secret(world["project"]["id"], "FAR", "v", environment="staging", path="/deep")
        assert api.post(MOVE, move_body(world, [elsewhere["id"]])).status == 200
        assert get(pysdk, world, "FAR").secretValue == "v"
        assert keys(pysdk, world, "staging", "/deep") == ["FAR"]    # deleted only from the source folder

    def test_validation_type_and_membership(self, world, api):
        a = api.seed_secret(world["project"]["id"], "A", "v")
        body = assert_error(api.post(MOVE, move_body(world, None)), 422, error="ValidationFailure")
        assert body["message"][0]["path"] == ["secretIds"]
        body = assert_error(api.post(MOVE, move_body(world, [a["id"], 5])), 422)
        assert body["message"][0]["path"] == ["secretIds", 1]
        body = assert_error(api.post(MOVE, move_body(world, [a["id"]], shouldOverwrite="yes")), 422)
        assert body["message"][0]["path"] == ["shouldOverwrite"]
        body = assert_error(api.post(MOVE, {"secretIds": []}), 422)
        assert [i["path"] for i in body["message"]] == [["projectId"], ["sourceEnvironment"],
                                                       ["destinationEnvironment"]]
        kms = api.control("POST", "projects", {"slug": "keys", "type": "kms",
                                               "members": [world["identity"]["identityId"]]})
        assert_error(api.post(MOVE, move_body(world, [a["id"]], projectId=kms["id"])), 400,
                     "The project is of type kms. Operations of type secret-manager are not allowed.")
        other = api.control("POST", "projects", {"slug": "other"})
        assert_error(api.post(MOVE, move_body(world, [a["id"]], projectId=other["id"])), 403)
        assert_error(Api(api.base_url).post(MOVE, move_body(world, [a["id"]])), 401, "Token missing")

    def test_a_server_without_the_route(self, world, api):
        a = api.seed_secret(world["project"]["id"], "A", "v")
        assert api.control("POST", "options", {"moveRoute": False})["moveRoute"] is False
        for path in (MOVE, "/api/v3/secrets/move"):
            response = api.post(path, move_body(world, [a["id"]]))
            assert (response.status, response.json) == (
                404, {"message": f"Route POST:{path} not found", "error": "Not Found", "statusCode": 404})
        assert Api(api.base_url).post(MOVE, move_body(world, [a["id"]])).status == 404     # before any auth
        api.control("POST", "reset")
        assert api.control("GET", "options")["moveRoute"] is True

    def test_unknown_routes_get_fastifys_body(self, world, api):
        response = api.get("/api/v9/nothing", query={"x": "1"})
        assert (response.status, response.json) == (
            404, {"message": "Route GET:/api/v9/nothing?x=1 not found", "error": "Not Found", "statusCode": 404})


class TestReferencesFollowMovesAndRenames:
    def test_a_move_rewrites_references_to_the_moved_key(self, world, api, pysdk):
        pid = world["project"]["id"]
        api.control("POST", "secrets", {"projectId": pid, "environment": "prod", "secretPath": "/app",
                                        "secretKey": "LOCAL_IN_DEST", "secretValue": "${dev.HOST}:1"})
        host = api.seed_secret(pid, "HOST", "db.local")
        api.seed_secret(pid, "URL", "pg://${HOST}/x and ${HOST}")               # same folder: local reference
        api.seed_secret(pid, "FAR", "${dev.HOST}", environment="staging")        # nested from elsewhere
        api.seed_secret(pid, "UNRELATED", "${HOSTNAME} ${dev.HOSTS}")
        assert api.post(MOVE, move_body(world, [host["id"]], destinationSecretPath="/app")).status == 200
        url = get(pysdk, world, "URL", "dev")
        assert (url.secretValue, url.version) == ("pg://${prod.app.HOST}/x and ${prod.app.HOST}", 2)
        assert get(pysdk, world, "FAR", "staging").secretValue == "${prod.app.HOST}"
        assert get(pysdk, world, "LOCAL_IN_DEST", path="/app").secretValue == "${HOST}:1"   # now local
        unrelated = get(pysdk, world, "UNRELATED", "dev")
        assert (unrelated.secretValue, unrelated.version) == ("${HOSTNAME} ${dev.HOSTS}", 1)
        expanded = pysdk.secrets.get_secret_by_name(secret_name="URL", environment_slug="dev", secret_path="/",
                                                    project_id=pid, expand_secret_references=True)
        assert expanded.secretValue == "pg://db.local/x and db.local"

    def test_a_rename_rewrites_local_and_nested_references(self, world, api, pysdk):
        pid = world["project"]["id"]
        api.seed_secret(pid, "OLD", "v", path="/svc")
        api.seed_secret(pid, "SIBLING", "${OLD}-${OLD}", path="/svc")
        api.seed_secret(pid, "REMOTE", "x${dev.svc.OLD}", environment="prod")
        api.seed_secret(pid, "LOCAL_ELSEWHERE", "${OLD}")                       # another folder's OLD: untouched
        pysdk.secrets.update_secret_by_name(current_secret_name="OLD", new_secret_name="NEW", secret_path="/svc",
                                            environment_slug="dev", project_id=pid)
        sibling = get(pysdk, world, "SIBLING", "dev", "/svc")
        assert (sibling.secretValue, sibling.version) == ("${NEW}-${NEW}", 2)
        assert get(pysdk, world, "REMOTE").secretValue == "x${dev.svc.NEW}"
        assert get(pysdk, world, "LOCAL_ELSEWHERE", "dev").secretValue == "${OLD}"


class TestSeededTagsAndMetadata:
    def test_tags_and_metadata_show_in_list_and_get_and_survive_the_seed(self, world, api, pysdk):
        pid = world["project"]["id"]
        api.seed_secret(pid, "T", "v", tags=["a", "b"], secretMetadata=[{"key": "k", "value": "w"}])
        listed = pysdk.secrets.list_secrets(environment_slug="dev", secret_path="/", project_id=pid).secrets[0]
        assert listed.tags == [{"id": "a", "slug": "a", "color": None, "name": "a"},
                               {"id": "b", "slug": "b", "color": None, "name": "b"}]
        assert listed.secretMetadata == [{"key": "k", "value": "w", "isEncrypted": False}]
        (seeded,) = api.control("GET", "seed")["secrets"]
        assert (seeded["tags"], seeded["secretMetadata"]) == (["a", "b"], [{"key": "k", "value": "w"}])
        assert api.request("POST", "/__test__/secrets", body={"projectId": pid, "secretKey": "X",
                                                              "tags": "ops"}).status == 400

    def test_metadata_through_the_write_routes(self, world, api, pysdk):
        pid = world["project"]["id"]
        pysdk.secrets.create_secret_by_name(secret_name="M", secret_value="v", secret_path="/", environment_slug="dev",
                                            project_id=pid, secret_metadata=[{"key": "team", "value": " a "}])
        assert get(pysdk, world, "M", "dev").secretMetadata == [{"key": "team", "value": "a", "isEncrypted": False}]
        pysdk.secrets.update_secret_by_name(current_secret_name="M", secret_path="/", environment_slug="dev",
                                            project_id=pid, secret_metadata=[])
        assert get(pysdk, world, "M", "dev").secretMetadata == []
        body = assert_error(api.post(secret_url("N"), {"workspaceId": pid, "environment": "dev", "secretValue": "v",
                                                       "secretMetadata": [{"value": "no key"}]}), 422)
        assert body["message"][0]["path"] == ["secretMetadata", 0]
