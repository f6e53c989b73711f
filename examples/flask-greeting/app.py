"""The Flask greeting of the Infisical Python SDK's docs, reading its secret
from an infisicalfs mount instead of calling the SDK.

In the SDK's version the app builds an `InfisicalClient` with a machine
identity's client ID and secret, and its `/` route calls
`client.getSecret(...)` for the secret `NAME` of the `dev` environment of a
project, then answers `Hello! My name is: <value>`. Here the mount holds the
credentials, the login and the cache; the app only reads a file:
`/<mount>/<project>/dev/NAME`.

    SECRETS_DIR=/secrets PROJECT=my-project flask --app app.py run
"""
import os
from pathlib import Path

from flask import Flask

app = Flask(__name__)

# Where infisicalfs is mounted, and the project (its slug or ID) to read.
SECRETS_DIR = Path(os.environ.get("SECRETS_DIR", "/secrets"))
PROJECT = os.environ.get("PROJECT", "PROJECT_ID")


@app.route("/")
def hello_world():
    # access value: read at every request, so a new value shows at once when
    # it was written through the mount, and within the mount's cache_ttl when
    # it was changed in Infisical.
    name = (SECRETS_DIR / PROJECT / "dev" / "NAME").read_text()
    return f"Hello! My name is: {name}"
