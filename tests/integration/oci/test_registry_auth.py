"""oci_push against registries that want credentials: htpasswd over TLS, a Bearer token realm, Docker config.json.

Real docker-registry processes (tests/harness/registry.py) and a real token server (tests/harness/token_server.py);
the module runs in real ansible-playbook. Failures must name the registry, push nothing and never show the password.
"""
import base64
import json
import os
import subprocess

import pytest

from harness.tools import tool

SEED_NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: test\n"


def seed_file(tmp_path):
    path = tmp_path / "test-namespace.yaml"
    path.write_text(SEED_NAMESPACE)
    return path


def push_task(src, image, **options):
    args = {"src": [str(src)], "image": image}
    args.update(options)
    return [{"name": "push", "configsync.oci.oci_push": args}]


def test_htpasswd_over_tls_with_ca_cert(ansible, registry_tls_htpasswd, repository_name, tmp_path):
    reg = registry_tls_htpasswd
    run = ansible(tasks=push_task(seed_file(tmp_path), reg.ref(repository_name, "v1"), username=reg.username,
                                  password=reg.password, ca_cert=str(reg.ca_file)))
    assert not run.failed, run.output
    result = run.result("push")
    assert result["changed"] is True
    assert reg.manifest_digest(repository_name, "v1") == result["digest"]
    assert reg.password not in run.output


def test_tls_without_ca_cert_is_a_clear_tls_error(ansible, registry_tls_htpasswd, repository_name, tmp_path):
    reg = registry_tls_htpasswd
    run = ansible(tasks=push_task(seed_file(tmp_path), reg.ref(repository_name, "v1"), username=reg.username,
                                  password=reg.password))
    assert run.failed, run.output
    message = run.result("push")["msg"]
    assert reg.host in message
    assert any(word in message.lower() for word in ("certificate", "tls", "ssl")), message
    assert "ca_cert" in message, "the message should say which option fixes it: " + message
    assert reg.manifest_digest(repository_name, "v1") is None
    assert reg.password not in run.output


def test_token_realm(ansible, registry_token, repository_name, tmp_path):
    reg = registry_token
    reg.token_server.clear_log()
    run = ansible(tasks=push_task(seed_file(tmp_path), reg.ref(repository_name, "v1"), username=reg.username,
                                  password=reg.password, ca_cert=str(reg.ca_file)))
    assert not run.failed, run.output
    result = run.result("push")
    assert reg.manifest_digest(repository_name, "v1") == result["digest"]

    granted = [entry for entry in reg.token_server.requests() if entry["status"] == 200 and entry["user"] == reg.username]
    assert granted, reg.token_server.requests()
    # The client asked for push on this repository, for the service the registry named in its challenge.
    assert any("repository:{0}:".format(repository_name) in scope and "push" in scope
               for entry in granted for scope in entry["scopes"]), granted
    assert all(entry["service"] == reg.token_server.service for entry in granted), granted
    assert reg.password not in run.output


def test_docker_config_auths_entry(ansible, registry_tls_htpasswd, repository_name, tmp_path):
    reg = registry_tls_htpasswd
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    auth = base64.b64encode("{0}:{1}".format(reg.username, reg.password).encode()).decode()
    config.write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))

    run = ansible(tasks=push_task(seed_file(tmp_path), reg.ref(repository_name, "v1"), docker_config=str(config),
                                  ca_cert=str(reg.ca_file)))
    assert not run.failed, run.output
    assert reg.manifest_digest(repository_name, "v1") == run.result("push")["digest"]


def test_docker_config_for_token_registry(ansible, registry_token, repository_name, tmp_path):
    reg = registry_token
    config = tmp_path / "config.json"
    auth = base64.b64encode("{0}:{1}".format(reg.username, reg.password).encode()).decode()
    config.write_text(json.dumps({"auths": {"https://" + reg.host: {"auth": auth}}}))

    run = ansible(tasks=push_task(seed_file(tmp_path), reg.ref(repository_name, "v1"), docker_config=str(config),
                                  ca_cert=str(reg.ca_file)))
    assert not run.failed, run.output
    assert reg.manifest_digest(repository_name, "v1") == run.result("push")["digest"]


def _assert_rejected_without_leak(run, reg, repository_name, wrong_password):
    assert run.failed, run.output
    message = run.result("push")["msg"]
    assert reg.host in message, message
    assert wrong_password not in run.output
    assert reg.password not in run.output
    assert reg.manifest_digest(repository_name, "v1") is None


def test_wrong_password_htpasswd(ansible, registry_tls_htpasswd, repository_name, tmp_path):
    reg = registry_tls_htpasswd
    wrong = "wrong-" + reg.password[::-1]
    run = ansible(tasks=push_task(seed_file(tmp_path), reg.ref(repository_name, "v1"), username=reg.username, password=wrong,
                                  ca_cert=str(reg.ca_file)), verbosity=3)
    _assert_rejected_without_leak(run, reg, repository_name, wrong)
    # Nothing reached the upload endpoints: a rejected login uploads no blob.
    assert not [r for r in reg.requests() if r.status in (201, 202) and repository_name in r.path]


def test_wrong_password_token(ansible, registry_token, repository_name, tmp_path):
    reg = registry_token
    wrong = "wrong-" + reg.password[::-1]
    reg.token_server.clear_log()
    run = ansible(tasks=push_task(seed_file(tmp_path), reg.ref(repository_name, "v1"), username=reg.username, password=wrong,
                                  ca_cert=str(reg.ca_file)), verbosity=3)
    _assert_rejected_without_leak(run, reg, repository_name, wrong)
    assert [entry for entry in reg.token_server.requests() if entry["status"] == 401], reg.token_server.requests()


def test_wrong_password_in_docker_config(ansible, registry_tls_htpasswd, repository_name, tmp_path):
    reg = registry_tls_htpasswd
    wrong = "wrong-" + reg.password[::-1]
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {reg.host: {"auth": base64.b64encode("{0}:{1}".format(reg.username, wrong).encode()).decode()}}}))
    run = ansible(tasks=push_task(seed_file(tmp_path), reg.ref(repository_name, "v1"), docker_config=str(config),
                                  ca_cert=str(reg.ca_file)), verbosity=3)
    _assert_rejected_without_leak(run, reg, repository_name, wrong)


# --- the harness's registries with the seed's own tools: a failure above is oci_push's, not the harness's ---------
def _crane_append(reg, ref, tarball, workdir):
    docker_dir = workdir / "docker"
    docker_dir.mkdir()
    auth = base64.b64encode("{0}:{1}".format(reg.username, reg.password).encode()).decode()
    (docker_dir / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
    # Go reads SSL_CERT_FILE for its roots; crane has no CA option of its own.
    env = dict(os.environ, DOCKER_CONFIG=str(docker_dir), SSL_CERT_FILE=str(reg.ca_file))
    return [str(tool("crane")), "append", "-f", str(tarball), "-t", ref], env, None


def _oras_push(reg, ref, tarball, workdir):
    del workdir
    # --plain-http=false: oras would pick plain HTTP for a localhost registry by itself.
    argv = [str(tool("oras")), "push", "--plain-http=false", "--ca-file", str(reg.ca_file), "-u", reg.username, "--password-stdin", ref,
            tarball.name]
    return argv, dict(os.environ), reg.password


def _skopeo_copy(reg, ref, tarball, workdir, source):
    cert_dir = workdir / "certs"
    cert_dir.mkdir()
    (cert_dir / "ca.crt").write_bytes(reg.ca_file.read_bytes())
    argv = ["skopeo", "copy", "--src-tls-verify=false", "--dest-cert-dir", str(cert_dir),
            "--dest-creds", "{0}:{1}".format(reg.username, reg.password), "docker://" + source, "docker://" + ref]
    del tarball
    return argv, dict(os.environ), None


@pytest.mark.parametrize("tool_name", ["crane", "oras", "skopeo"])
@pytest.mark.parametrize("kind", ["htpasswd", "token"])
def test_harness_registries_take_pushes_from_the_seed_tools(request, registry, repository_name, tmp_path, kind, tool_name):
    reg = request.getfixturevalue("registry_tls_htpasswd" if kind == "htpasswd" else "registry_token")
    seed_file(tmp_path)
    tarball = tmp_path / "test-namespace.tar"
    subprocess.run(["tar", "-C", str(tmp_path), "-cf", str(tarball), "test-namespace.yaml"], check=True)
    ref = reg.ref(repository_name, "v1")
    if tool_name == "skopeo":
        source = registry.ref(repository_name, "src")
        subprocess.run([str(tool("crane")), "append", "--insecure", "-f", str(tarball), "-t", source], check=True, capture_output=True)
        argv, env, stdin = _skopeo_copy(reg, ref, tarball, tmp_path, source)
    else:
        argv, env, stdin = (_crane_append if tool_name == "crane" else _oras_push)(reg, ref, tarball, tmp_path)

    completed = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert reg.manifest_digest(repository_name, "v1") is not None
