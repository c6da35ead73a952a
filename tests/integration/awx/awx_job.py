"""AWX's side of a job, reproduced for tests: the private data directory AWX writes, its credential injectors, and
the `ansible-runner transmit | ansible-runner worker | ansible-runner process` pipeline it streams to execution nodes.

What AWX does is read from its source (ansible/awx, ansible/awx-plugins), not imported from it:
- awx_plugins/credentials/injectors.py: ``gce`` and ``kubernetes_bearer_token`` (the managed credential types).
- awx/main/models/credential.py ``CredentialType.inject_credential``: custom types (file templates rendered in a
  sandboxed Jinja environment into ``env/tmpXXXX``, ``tower.filename`` / ``tower.filename.<label>``, env injectors).
- awx/main/tasks/jobs.py: ``inventory/hosts`` as an executable script printing the inventory JSON, ``env/extravars``,
  slices as ``hosts[slice_number - 1::slice_count]``, ``requirements_collections`` first in the collections path.

In a container AWX names files by their in-container path (``/runner/env/tmpXXXX``, get_incontainer_path). Without a
container engine the worker runs at a fixed private data directory instead, and injected paths name that directory.
"""
import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import yaml
from jinja2 import sandbox

from harness.paths import REPO

CREDENTIAL_TYPE_FILE = REPO / "extras" / "awx" / "fleet_kubeconfig_credential_type.yml"
SURVEY_FILE = REPO / "extras" / "awx" / "rollout_survey.yml"
CONTROLLER_BIN = pathlib.Path(sys.executable).parent
# awx_plugins' gce injector always writes Google's token endpoint into the key file.
AWX_GCE_TOKEN_URI = "https://oauth2.googleapis.com/token"
# The variables each managed credential type injects (names as AWX writes them).
GCE_VARIABLES = {"GCE_EMAIL", "GCE_PROJECT", "GCE_CREDENTIALS_FILE_PATH", "GCP_SERVICE_ACCOUNT_FILE",
                 "GOOGLE_APPLICATION_CREDENTIALS", "GCP_AUTH_KIND", "GCP_PROJECT", "GCP_ENV_TYPE"}
BEARER_TOKEN_VARIABLES = {"K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "K8S_AUTH_VERIFY_SSL", "K8S_AUTH_SSL_CA_CERT"}


class PrivateDataDir:
    """One job's private data directory as AWX lays it out, built on the controller side."""

    def __init__(self, root, worker_dir):
        self.root = pathlib.Path(root)
        # Where the worker unpacks the stream: the stand-in for /runner inside the execution environment.
        self.worker_dir = pathlib.Path(worker_dir)
        self.env = {}
        for sub in ("env", "inventory", "project"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _secret_file(self, data):
        handle, path = tempfile.mkstemp(dir=str(self.root / "env"))
        with os.fdopen(handle, "w") as stream:
            stream.write(data)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        return self.worker_dir / "env" / os.path.basename(path)

    # ----- credential injectors -----

    def inject_gce(self, username, project, ssh_key_data):
        """The "Google Compute Engine" credential (awx_plugins.credentials.injectors.gce)."""
        key_file = self._secret_file(json.dumps({
            "type": "service_account", "private_key": ssh_key_data, "client_email": username, "project_id": project,
            "token_uri": AWX_GCE_TOKEN_URI}, indent=2))
        self.env.update({
            "GCE_EMAIL": username, "GCE_PROJECT": project, "GCE_CREDENTIALS_FILE_PATH": str(key_file),
            "GCP_SERVICE_ACCOUNT_FILE": str(key_file), "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
            "GCP_AUTH_KIND": "serviceaccount", "GCP_PROJECT": project, "GCP_ENV_TYPE": "tower"})

    def inject_kubernetes_bearer_token(self, host, bearer_token, verify_ssl=True, ssl_ca_cert=None):
        """The "OpenShift or Kubernetes API Bearer Token" credential (awx_plugins...injectors.kubernetes_bearer_token)."""
        self.env["K8S_AUTH_HOST"] = host
        self.env["K8S_AUTH_API_KEY"] = bearer_token
        if verify_ssl and ssl_ca_cert is not None:
            self.env["K8S_AUTH_VERIFY_SSL"] = "True"
            self.env["K8S_AUTH_SSL_CA_CERT"] = str(self._secret_file(ssl_ca_cert))
        else:
            self.env["K8S_AUTH_VERIFY_SSL"] = "False"

    def inject_custom(self, credential_type, inputs):
        """A custom credential type (CredentialType.inject_credential): file templates, then env templates."""
        jinja = sandbox.ImmutableSandboxedEnvironment()
        filenames = {}
        namespace = dict(inputs)
        for label, template in (credential_type["injectors"].get("file") or {}).items():
            path = self._secret_file(jinja.from_string(template).render(**namespace))
            filenames[label.split(".", 1)[1] if "." in label else None] = str(path)
        tower = {"filename": filenames.get(None) or {k: v for k, v in filenames.items() if k}}
        for variable, template in (credential_type["injectors"].get("env") or {}).items():
            self.env[variable] = jinja.from_string(template).render(tower=tower, **namespace)

    # ----- the rest of the job -----

    def write(self, playbook, hosts, extravars, collections, job_env=None, slice_number=1, slice_count=1, forks=5):
        """inventory/hosts (a script, as AWX writes it), env/extravars (survey answers), env/envvars, the project.

        ``hosts`` maps host name -> host variables; with slices, only this slice's hosts are written.
        ``collections`` is the project sync's requirements_collections directory, copied in like AWX does.
        """
        names = sorted(hosts)[slice_number - 1::slice_count]
        inventory = {"all": {"hosts": names, "vars": {}},
                     "_meta": {"hostvars": {name: hosts[name] for name in names}}}
        script = self.root / "inventory" / "hosts"
        script.write_text("#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(%r)\n" % json.dumps(inventory))
        script.chmod(0o700)
        (self.root / "env" / "extravars").write_text(yaml.safe_dump(extravars))
        (self.root / "env" / "cmdline").write_text("--forks=%d" % forks)
        shutil.copytree(str(REPO / "playbooks"), str(self.root / "project" / "playbooks"))
        shutil.copytree(str(collections), str(self.root / "requirements_collections"), symlinks=False)
        env = dict(self.env)
        env.update(job_env or {})
        # awx/main/tasks/jobs.py: the project's requirements_collections come first, then the EE's own paths.
        env["ANSIBLE_COLLECTIONS_PATH"] = ":".join([str(self.worker_dir / "requirements_collections"),
                                                    "~/.ansible/collections", "/usr/share/ansible/collections"])
        env["ANSIBLE_RETRY_FILES_ENABLED"] = "False"
        (self.root / "env" / "envvars").write_text(yaml.safe_dump(env))
        self.playbook = playbook
        return names


class JobResult:
    """What AWX reads back from ``ansible-runner process``: status, events, stdout."""

    def __init__(self, artifacts, returncodes, seconds):
        self.artifacts = artifacts
        self.returncodes = returncodes
        self.seconds = seconds
        self.status = (artifacts / "status").read_text().strip() if (artifacts / "status").exists() else None
        events_dir = artifacts / "job_events"
        # Event files are named <counter>-<uuid>.json.
        paths = sorted(events_dir.glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0])) if events_dir.exists() else []
        self.events = [json.loads(path.read_text()) for path in paths]
        self.stdout = (artifacts / "stdout").read_text() if (artifacts / "stdout").exists() else ""

    @property
    def stats(self):
        found = [e["event_data"] for e in self.events if e.get("event") == "playbook_on_stats"]
        assert len(found) == 1, "no playbook_on_stats event: %s" % self
        return found[0]

    def host_results(self, task):
        return [e["event_data"] for e in self.events
                if e.get("event") == "runner_on_ok" and e["event_data"].get("task", "").endswith(task)]

    def raw_text(self):
        """Every event, the stdout and the runner processes' own output as one string, for secret scans."""
        return json.dumps(self.events) + self.stdout + getattr(self, "process_output", "")

    def __repr__(self):
        failed = [e["event_data"].get("res", {}).get("msg") for e in self.events if e.get("event") == "runner_on_failed"]
        return "JobResult(status=%s, rc=%s, failed=%s)\n%s" % (self.status, self.returncodes, failed, self.stdout[-4000:])


def run_job(private, worker_bin, ident, timeout=900):
    """``ansible-runner transmit | ansible-runner worker | ansible-runner process`` on a prepared private data dir.

    transmit and process run with the controller's ansible-runner; worker with the execution environment's
    (``worker_bin``), whose ansible-playbook and Python run the job.
    """
    began = time.monotonic()
    shutil.rmtree(str(private.worker_dir), ignore_errors=True)
    process_dir = private.root.parent / (private.root.name + "-process")
    process_dir.mkdir(exist_ok=True)
    worker_env = {"PATH": "%s:/usr/bin:/bin" % worker_bin, "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    transmit = subprocess.Popen([str(CONTROLLER_BIN / "ansible-runner"), "transmit", str(private.root), "-p", private.playbook,
                                 "--ident", ident], stdout=subprocess.PIPE)
    worker_log = open(str(process_dir / "worker.log"), "w")  # pylint: disable=consider-using-with
    worker = subprocess.Popen([str(pathlib.Path(worker_bin) / "ansible-runner"), "worker", "--private-data-dir",
                               str(private.worker_dir)], stdin=transmit.stdout, stdout=subprocess.PIPE, stderr=worker_log,
                              env=worker_env)
    worker_log.close()
    transmit.stdout.close()
    processor = subprocess.Popen([str(CONTROLLER_BIN / "ansible-runner"), "process", str(process_dir), "--ident", ident],
                                 stdin=worker.stdout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    worker.stdout.close()
    processor_output = processor.communicate(timeout=timeout)[0]
    codes = {"transmit": transmit.wait(timeout=60), "worker": worker.wait(timeout=60), "process": processor.returncode}
    result = JobResult(process_dir / "artifacts" / ident, codes, round(time.monotonic() - began, 2))
    result.process_output = processor_output.decode(errors="replace") + (process_dir / "worker.log").read_text()
    return result


def survey_extravars(answers):
    """The extra variables AWX makes of survey answers (rollout_survey.yml), checked as AWX's survey validation does:
    every required question answered or defaulted, choices, text length, integer bounds."""
    spec = yaml.safe_load(SURVEY_FILE.read_text())["spec"]
    unknown = set(answers) - {question["variable"] for question in spec}
    assert not unknown, "answers to questions the survey does not ask: %s" % unknown
    extravars = {}
    for question in spec:
        value = answers.get(question["variable"], question.get("default"))
        if value in (None, "") and not question["required"]:
            continue
        assert value not in (None, ""), "required survey question unanswered: %s" % question["variable"]
        if question["type"] == "integer":
            assert isinstance(value, int) and question["min"] <= value <= question["max"], question
        else:
            assert isinstance(value, str), "AWX sends %s answers as text: %s" % (question["type"], question["variable"])
            if question["type"] == "multiplechoice":
                assert value in question["choices"], (question["variable"], value)
            else:
                assert question["min"] <= len(value) <= question["max"], (question["variable"], value)
        extravars[question["variable"]] = value
    return extravars


def fleet_credential_type():
    return yaml.safe_load(CREDENTIAL_TYPE_FILE.read_text())
