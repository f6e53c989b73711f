"""Checks of deploy/ (Dockerfile, entrypoint, compose, Kubernetes), which no
container engine runs here: the files parse, say what the docs say they say,
and stay in step with the README's build commands, the CLI's options, and the
credential variables of docs/CONFIGURATION.md. One test runs the entrypoint
for real (root, /dev/fuse and a built binary needed; skipped otherwise).

    "$(scripts/python-venv.sh | tail -1)" -m pytest Tests/DeployChecks -q

INFISICALFS names the binary (default .build/debug/infisicalfs, else
.build/release/infisicalfs); scripts/test.sh runs this after building.
"""
import json
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path, PurePosixPath

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
COMPOSE = DEPLOY / "compose.yaml"
DAEMONSET = DEPLOY / "k8s" / "daemonset.yaml"
SIDECAR = DEPLOY / "k8s" / "sidecar.yaml"
ARGUMENTS_SWIFT = ROOT / "Sources" / "InfisicalFSCLI" / "Arguments.swift"

# Where the image mounts the secrets (entrypoint.sh's default), and the runtime
# library each -dev package of scripts/install-deps.sh builds against.
RUNTIME_PACKAGES = {
    "libfuse3-dev": "fuse3",
    "libssl-dev": "libssl3",
    "libcurl4-openssl-dev": "libcurl4",
    "libsqlite3-dev": "libsqlite3-0",
}
# Variables that hold a secret: never in a command line, an ENV line or a
# manifest's literal value. (INFISICAL_SITE_URL and the endpoint overrides
# are not secrets.)
SECRET_VARIABLE_HINTS = ("SECRET", "TOKEN", "CLIENT_ID", "ACCESS_KEY", "PASSWORD")


# ---------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------

def dockerfile_instructions(text):
    """(INSTRUCTION, arguments) pairs, comments dropped and continuations joined."""
    instructions, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].strip() + " "
            continue
        current += stripped
        keyword, _, rest = current.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return instructions


def dockerfile_stages():
    """[{name, image, instructions}], with ARG defaults before the first FROM resolved."""
    args, stages = {}, []
    for keyword, rest in dockerfile_instructions(DOCKERFILE.read_text()):
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append({"name": name, "image": image, "instructions": []})
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1]["instructions"].append((keyword, rest))
    return stages


def run_commands(stage):
    """A stage's RUN lines as commands: each shell-form RUN split at `&&`."""
    commands = []
    for keyword, rest in stage["instructions"]:
        if keyword == "RUN":
            assert not rest.startswith("["), "RUN in exec form"
            commands += [command.strip() for command in rest.split("&&")]
    return commands


def exec_form(stage, keyword):
    values = [rest for key, rest in stage["instructions"] if key == keyword]
    assert len(values) == 1, f"expected one {keyword} in the runtime stage, found {len(values)}"
    value = json.loads(values[0])   # exec form: a JSON array, so no shell stands between
    assert isinstance(value, list) and all(isinstance(word, str) for word in value)
    return value


def readme_build_commands():
    """The README's first command, up to and including `swift build`, split at `&&`."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:sh|bash|console)\n(.*?)```", readme, re.S)
    assert block, "the README has no command block"
    line = next(line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#"))
    commands = []
    for command in (part.strip() for part in line.split("&&")):
        commands.append(command)
        if command.startswith("swift build"):
            return commands
    raise AssertionError(f"the README's first command does not run swift build: {line}")


def cli_vocabulary():
    """The flags, -o names and ignored mount(8) options that Arguments.swift parses."""
    source = ARGUMENTS_SWIFT.read_text()

    def block(header):
        start = source.index(header)
        end = source.index("\n    }\n", start)
        return source[start:end]

    flags = set(re.findall(r'"(-[-a-z]+)"', block("var flags: [String] {")))
    names = set(re.findall(r'case \.\w+: "(\w+)"', block("var fstabName: String? {")))
    ignored_block = source[source.index("static let ignoredMountOptions"):]
    ignored = set(re.findall(r'"([\w-]+)"', ignored_block[:ignored_block.index("]")]))
    assert {"--foreground", "--credentials-file", "--allow-other"} <= flags
    assert {"allow_other", "ro", "credentials_file", "cache_ttl"} <= names
    return flags, names, ignored


def credential_variables():
    source = ARGUMENTS_SWIFT.read_text()
    start = source.index("static let credentialVariables")
    names = re.findall(r'"(INFISICAL_\w+)"', source[start:source.index("]", start)])
    assert "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET" in names
    return set(names)


def yaml_documents(path):
    return [document for document in yaml.safe_load_all(path.read_text()) if document is not None]


def entrypoint_mountpoint():
    match = re.search(r"INFISICALFS_MOUNTPOINT:-([^}]+)\}", ENTRYPOINT.read_text())
    assert match, "entrypoint.sh names no default mountpoint"
    return match.group(1)


def infisicalfs_binary():
    candidates = [os.environ.get("INFISICALFS", ""), ROOT / ".build/debug/infisicalfs",
                  ROOT / ".build/release/infisicalfs"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return str(Path(candidate).resolve())
    return None


def pod_containers(pod_spec):
    return pod_spec.get("initContainers", []) + pod_spec.get("containers", [])


def container_named(pod_spec, name):
    matches = [c for c in pod_containers(pod_spec) if c["name"] == name]
    assert len(matches) == 1, f"no single container named {name}"
    return matches[0]


def mount_of(container, volume_name):
    matches = [m for m in container.get("volumeMounts", []) if m["name"] == volume_name]
    assert len(matches) == 1, f"{container['name']} does not mount {volume_name} once"
    return matches[0]


def shared_volume(container, mountpoint):
    """The volumeMount of `container` whose path is the mountpoint's parent folder."""
    parent = str(PurePosixPath(mountpoint).parent)
    matches = [m for m in container.get("volumeMounts", []) if m["mountPath"] == parent]
    assert len(matches) == 1, f"{container['name']} mounts no volume on {parent}"
    return matches[0]


def daemonset_documents():
    documents = yaml_documents(DAEMONSET)
    agent = next(d for d in documents if d["kind"] == "DaemonSet")
    apps = [d for d in documents if d["kind"] == "Pod"]
    return agent, apps


def sidecar_pod():
    pods = [d for d in yaml_documents(SIDECAR) if d["kind"] == "Pod"]
    assert len(pods) == 1
    return pods[0]


ARGUMENT_LISTS = ["Dockerfile CMD", "compose.yaml infisicalfs command", "daemonset.yaml args", "sidecar.yaml args"]


def infisicalfs_argument_lists():
    """Every list of options handed to the image's entrypoint, by where it is written."""
    runtime = dockerfile_stages()[-1]
    agent, _ = daemonset_documents()
    compose = yaml_documents(COMPOSE)[0]
    return {
        "Dockerfile CMD": exec_form(runtime, "CMD"),
        "compose.yaml infisicalfs command": compose["services"]["infisicalfs"]["command"],
        "daemonset.yaml args": container_named(agent["spec"]["template"]["spec"], "infisicalfs")["args"],
        "sidecar.yaml args": container_named(sidecar_pod()["spec"], "infisicalfs")["args"],
    }


def option_items(arguments):
    """(name, value) of every -o item in an argument list; flags as (flag, None)."""
    items, words = [], list(arguments)
    while words:
        word = words.pop(0)
        if word == "-o":
            for item in words.pop(0).split(","):
                name, _, value = item.partition("=")
                items.append((name, value))
        elif word.startswith("-o") and len(word) > 2:
            for item in word[2:].split(","):
                name, _, value = item.partition("=")
                items.append((name, value))
        elif word.startswith("-"):
            items.append((word.split("=")[0], None))
    return items


# ---------------------------------------------------------------------------
# Every file parses
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.y*ml")), ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses(path):
    documents = yaml_documents(path)
    assert documents, f"{path} holds no document"
    for document in documents:
        assert isinstance(document, dict)


def test_the_expected_files_exist():
    for path in (DOCKERFILE, ENTRYPOINT, COMPOSE, DAEMONSET, SIDECAR, ROOT / ".dockerignore"):
        assert path.is_file(), path
    assert os.access(ENTRYPOINT, os.X_OK), "entrypoint.sh is not executable"


def test_entrypoint_is_valid_sh():
    result = subprocess.run(["sh", "-n", str(ENTRYPOINT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------

def test_dockerfile_is_multi_stage_on_one_debian_release():
    stages = dockerfile_stages()
    assert len(stages) == 2, [s["image"] for s in stages]
    build, runtime = stages
    assert build["name"] == "build"
    assert re.fullmatch(r"swift:6\.\d+(\.\d+)?-bookworm", build["image"]), build["image"]
    assert runtime["image"] == "debian:bookworm-slim"


def test_build_stage_runs_exactly_the_readmes_build_commands():
    build = dockerfile_stages()[0]
    assert run_commands(build) == readme_build_commands()


def test_runtime_stage_copies_what_the_build_made():
    build, runtime = dockerfile_stages()
    build_command = readme_build_commands()[-1]
    configuration = "release" if re.search(r"-c\s+release|--configuration\s+release", build_command) else "debug"
    workdir = next(rest for key, rest in build["instructions"] if key == "WORKDIR")
    copies = [rest for key, rest in runtime["instructions"] if key == "COPY"]
    assert f"--from=build {workdir}/.build/{configuration}/infisicalfs /usr/local/bin/infisicalfs" in copies
    assert any(c.startswith("--from=build /usr/lib/swift/linux/") for c in copies), "no Swift runtime copied"
    assert "deploy/entrypoint.sh /usr/local/bin/infisicalfs-entrypoint" in copies


def test_runtime_stage_installs_the_runtime_of_every_c_library_built_against():
    install_deps = (ROOT / "scripts" / "install-deps.sh").read_text()
    packages = re.search(r"^packages=\((.*?)\)", install_deps, re.M).group(1).split()
    dev_packages = [p for p in packages if p.endswith("-dev")]
    unknown = [p for p in dev_packages if p not in RUNTIME_PACKAGES]
    assert not unknown, f"install-deps.sh builds against {unknown}: add their runtime packages here and to the Dockerfile"
    runtime = dockerfile_stages()[-1]
    installs = " ".join(c for c in run_commands(runtime) if "apt-get install" in c).split()
    for dev in dev_packages:
        assert RUNTIME_PACKAGES[dev] in installs, f"the runtime stage does not install {RUNTIME_PACKAGES[dev]}"
    assert "ca-certificates" in installs
    assert "--no-install-recommends" in installs


def test_entrypoint_mounts_in_the_foreground_from_the_image():
    runtime = dockerfile_stages()[-1]
    assert exec_form(runtime, "ENTRYPOINT") == ["/usr/local/bin/infisicalfs-entrypoint"]
    script = ENTRYPOINT.read_text()
    exec_lines = [line.strip() for line in script.splitlines() if line.strip().startswith("exec ")]
    assert exec_lines == ['exec infisicalfs mount "$mountpoint" --foreground "$@"'], exec_lines
    mountpoint = entrypoint_mountpoint()
    assert f"mkdir -p {mountpoint}" in " ".join(c for c in run_commands(runtime))


def test_no_credential_in_the_image():
    runtime = dockerfile_stages()[-1]
    words = exec_form(runtime, "ENTRYPOINT") + exec_form(runtime, "CMD")
    for stage in dockerfile_stages():
        for keyword, rest in stage["instructions"]:
            if keyword in ("ENV", "ARG", "LABEL"):
                words += shlex.split(rest)
    script = [line for line in ENTRYPOINT.read_text().splitlines() if not line.lstrip().startswith("#")]
    words += " ".join(script).split()
    leaks = [w for w in words if re.search(r"INFISICAL_|AWS_SECRET|client_?secret|access_?token", w, re.I)]
    assert not leaks, f"credentials belong in the environment or a credentials file, not in {leaks}"


def test_dockerignore_keeps_build_products_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".build", ".git"} <= ignored


# ---------------------------------------------------------------------------
# Options: every one the files pass is one the CLI knows
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("where", ARGUMENT_LISTS)
def test_options_are_known_to_the_cli(where):
    arguments = infisicalfs_argument_lists()[where]
    flags, names, ignored = cli_vocabulary()
    items = option_items(arguments)
    assert items, f"{where}: no options"
    for name, value in items:
        if value is None:
            assert name in flags, f"{where}: unknown flag {name}"
        else:
            assert name in names or name in ignored, f"{where}: unknown -o option {name}"
    assert ("allow_other", "") in items or "--allow-other" in arguments, f"{where}: other containers need allow_other"


@pytest.mark.parametrize("where", ARGUMENT_LISTS)
def test_options_parse_with_the_binary(where):
    """mount(8)'s fake mode (-f) runs the real parser, values included, and mounts nothing."""
    binary = infisicalfs_binary()
    if binary is None:
        pytest.skip("no infisicalfs binary built")
    arguments = infisicalfs_argument_lists()[where]
    command = [binary, "infisical", entrypoint_mountpoint(), "-f", "--foreground", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"{where}: {result.stderr.strip()}"


def test_the_fake_mode_check_can_fail():
    binary = infisicalfs_binary()
    if binary is None:
        pytest.skip("no infisicalfs binary built")
    result = subprocess.run([binary, "infisical", "/shared/secrets", "-f", "-o", "allow_others"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "unknown -o option" in result.stderr


def test_manifest_variables_are_documented_and_secrets_come_from_secrets():
    configuration = (ROOT / "docs" / "CONFIGURATION.md").read_text()
    agent, _ = daemonset_documents()
    environment = container_named(agent["spec"]["template"]["spec"], "infisicalfs")["env"]
    names = {variable["name"] for variable in environment}
    assert names & credential_variables(), "the DaemonSet passes no credential variable"
    for variable in environment:
        assert f"`{variable['name']}`" in configuration, f"{variable['name']} is not in docs/CONFIGURATION.md"
        assert "value" not in variable, f"{variable['name']} has a literal value; take it from a Secret"
        assert "secretKeyRef" in variable["valueFrom"], variable["name"]


# ---------------------------------------------------------------------------
# compose.yaml
# ---------------------------------------------------------------------------

def test_compose_gives_the_daemon_fuse_and_shares_the_mount():
    compose = yaml_documents(COMPOSE)[0]
    services = compose["services"]
    daemon, app = services["infisicalfs"], services["app"]
    assert (COMPOSE.parent / daemon["build"]["context"] / daemon["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert "/dev/fuse" in [device.split(":")[0] for device in daemon["devices"]]
    assert "SYS_ADMIN" in daemon["cap_add"]
    assert any(option.replace("=", ":") == "apparmor:unconfined" for option in daemon["security_opt"])
    mountpoint = entrypoint_mountpoint()
    parent = str(PurePosixPath(mountpoint).parent)

    def bind_on(service, target):
        binds = [v for v in service["volumes"] if isinstance(v, dict) and v.get("target") == target]
        assert len(binds) == 1, f"no single bind mount on {target}"
        assert binds[0]["type"] == "bind"
        return binds[0]

    daemon_bind = bind_on(daemon, parent)
    assert daemon_bind["bind"]["propagation"] == "rshared"
    app_bind = bind_on(app, parent)
    assert app_bind["bind"]["propagation"] in ("rslave", "rshared")
    assert app_bind["source"] == daemon_bind["source"], "the app does not see the daemon's folder"
    assert app["depends_on"]["infisicalfs"]["condition"] == "service_healthy"
    assert mountpoint in " ".join(daemon["healthcheck"]["test"])
    assert mountpoint in " ".join(app["command"])


def test_compose_credentials_come_from_a_file():
    compose = yaml_documents(COMPOSE)[0]
    daemon = compose["services"]["infisicalfs"]
    for variable in (daemon.get("environment") or {}):
        name = variable.split("=")[0] if isinstance(variable, str) else variable
        assert not any(hint in name for hint in SECRET_VARIABLE_HINTS), f"{name} inline in compose.yaml"
    credentials = dict(option_items(daemon["command"]))["credentials_file"]
    secret_name = PurePosixPath(credentials).name
    assert credentials == f"/run/secrets/{secret_name}", "compose mounts secrets at /run/secrets/NAME"
    assert secret_name in daemon["secrets"]
    assert "file" in compose["secrets"][secret_name]


# ---------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------

def test_daemonset_mounts_bidirectionally_on_the_host():
    agent, apps = daemonset_documents()
    assert agent["apiVersion"] == "apps/v1"
    spec = agent["spec"]["template"]["spec"]
    daemon = container_named(spec, "infisicalfs")
    assert daemon["securityContext"]["privileged"] is True
    mountpoint = entrypoint_mountpoint()
    shared = shared_volume(daemon, mountpoint)
    assert shared["mountPropagation"] == "Bidirectional"
    volume = next(v for v in spec["volumes"] if v["name"] == shared["name"])
    host_path = volume["hostPath"]["path"]
    for probe in ("readinessProbe", "livenessProbe"):
        command = daemon[probe]["exec"]["command"]
        assert any(word.startswith(mountpoint) for word in command), f"{probe} does not read the mount"
    assert spec["terminationGracePeriodSeconds"] >= 10
    assert apps, "no example of a pod reading the node's secrets"
    for app in apps:
        for container in app["spec"]["containers"]:
            seen = shared_volume(container, mountpoint)
            assert seen["mountPropagation"] == "HostToContainer"
            assert seen.get("readOnly") is True
            app_volume = next(v for v in app["spec"]["volumes"] if v["name"] == seen["name"])
            assert app_volume["hostPath"]["path"] == host_path
            assert mountpoint in " ".join(container["command"])


def test_sidecar_shares_an_empty_dir_with_the_app():
    pod = sidecar_pod()
    spec = pod["spec"]
    daemon = container_named(spec, "infisicalfs")
    mountpoint = entrypoint_mountpoint()
    shared = shared_volume(daemon, mountpoint)
    assert shared["mountPropagation"] == "Bidirectional"
    assert daemon["securityContext"]["privileged"] is True
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[shared["name"]]
    apps = [c for c in spec["containers"] if c["name"] != "infisicalfs"]
    assert apps
    for app in apps:
        seen = mount_of(app, shared["name"])
        assert seen["mountPath"] == shared["mountPath"]
        assert seen["mountPropagation"] == "HostToContainer"
    if daemon in spec.get("initContainers", []):
        assert daemon["restartPolicy"] == "Always", "an init container that is not a sidecar would block the pod"
    assert any(mountpoint in " ".join(daemon[p]["exec"]["command"])
               for p in ("startupProbe", "readinessProbe", "livenessProbe") if p in daemon)
    assert spec["terminationGracePeriodSeconds"] >= 10


def test_sidecar_credentials_file_is_a_private_file():
    spec = sidecar_pod()["spec"]
    daemon = container_named(spec, "infisicalfs")
    credentials = dict(option_items(daemon["args"]))["credentials_file"]
    mounts = [m for m in daemon["volumeMounts"] if m["mountPath"] == credentials]
    assert len(mounts) == 1, f"nothing is mounted at {credentials}"
    # A Secret volume's files are symbolic links, which the mode check refuses:
    # the file must come through subPath.
    assert mounts[0].get("subPath") == PurePosixPath(credentials).name
    secret = next(v for v in spec["volumes"] if v["name"] == mounts[0]["name"])["secret"]
    assert secret["defaultMode"] & 0o077 == 0, "the credentials file must be readable by its owner only"


# ---------------------------------------------------------------------------
# The entrypoint, run for real
# ---------------------------------------------------------------------------

def _mounted(path):
    with open("/proc/self/mounts") as table:
        return any(line.split()[1] == path for line in table)


def _wait(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_entrypoint_recovers_a_dead_mount_and_unmounts_on_sigterm():
    binary = infisicalfs_binary()
    if binary is None or os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        pytest.skip("needs root, /dev/fuse and a built infisicalfs")
    with tempfile.TemporaryDirectory() as work:
        mountpoint = os.path.join(work, "shared", "secrets")
        os.makedirs(mountpoint)
        store = ["--backend", "local", "--local-store", os.path.join(work, "store.db")]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("INFISICAL")}
        environment["PATH"] = str(Path(binary).parent) + os.pathsep + environment.get("PATH", "")
        environment["INFISICALFS_MOUNTPOINT"] = mountpoint
        killed = entrypoint = None
        try:
            # A daemon killed with SIGKILL leaves a dead mount behind.
            killed = subprocess.Popen([binary, "mount", mountpoint, "--foreground", *store],
                                      stderr=subprocess.DEVNULL, env=environment)
            assert _wait(lambda: _mounted(mountpoint), 15), "the first mount did not come up"
            killed.kill()
            killed.wait()
            with pytest.raises(OSError):
                os.stat(mountpoint)

            log = open(os.path.join(work, "entrypoint.log"), "w+")
            entrypoint = subprocess.Popen([str(ENTRYPOINT), *store], stderr=log, env=environment)
            status = os.path.join(mountpoint, ".status")
            assert _wait(lambda: os.path.exists(status), 15), "the entrypoint did not mount"
            with open(status) as handle:
                assert json.load(handle)["backend"] == "local"
            log.seek(0)
            assert "removing the dead mount" in log.read()

            entrypoint.send_signal(signal.SIGTERM)
            assert entrypoint.wait(timeout=15) == 0
            assert not _mounted(mountpoint), "SIGTERM did not unmount"
        finally:
            for process in (killed, entrypoint):
                if process and process.poll() is None:
                    process.kill()
                    process.wait()
            if _mounted(mountpoint):
                subprocess.run(["umount", "-l", mountpoint])


def test_health_probes_read_what_every_mount_has():
    """Every deploy file mounts read-only, and a read-only mount has no /.crypto:
    the probes must read /.status (made by the daemon, no call to Infisical)."""
    commands = [yaml_documents(COMPOSE)[0]["services"]["infisicalfs"]["healthcheck"]["test"]]
    for path in (DAEMONSET, SIDECAR):
        for document in yaml_documents(path):
            spec = document.get("spec", {})
            pod = spec.get("template", {}).get("spec", spec)
            for container in pod.get("initContainers", []) + pod.get("containers", []):
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if probe in container:
                        commands.append(container[probe]["exec"]["command"])
    assert len(commands) >= 4
    for command in commands:
        words = " ".join(command)
        assert ".crypto" not in words, f"{command}: read-only mounts have no /.crypto"
        assert entrypoint_mountpoint() in words, f"{command} does not read the mount"
