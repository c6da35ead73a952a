"""Run real ``ansible-playbook`` processes and read back each task's result."""
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

from harness.paths import COLLECTIONS_PATH, ensure_collections_tree

CALLBACKS = pathlib.Path(__file__).resolve().parent / "callback_plugins"
# What no playbook output of the suite may ever hold, whatever the test checks: a private key block, a Google access
# token (the emulator's and Google's start with ya29.), a signed JWT (service-account assertions, registry bearer
# tokens, Kubernetes service-account tokens), and any value a fixture registered with ``remember_secret``.
SECRET_PATTERNS = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"ya29\.[A-Za-z0-9_-]{8,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"),
)
_REMEMBERED = set()


def remember_secret(value):
    """Make every later playbook run fail if ``value`` (a password, a token) shows up in its output or results."""
    if value and len(value) >= 8:
        _REMEMBERED.add(value)
    return value


class SecretLeaked(AssertionError):
    """A playbook printed a secret; the message shows where, never the secret itself."""


def check_no_secret(text):
    for pattern in SECRET_PATTERNS:
        match = pattern.search(text)
        if match:
            raise SecretLeaked("a secret (%s...) leaked into the playbook output near: %r"
                               % (match.group(0)[:6], text[max(0, match.start() - 80):match.start()]))
    for value in _REMEMBERED:
        if value in text:
            position = text.index(value)
            raise SecretLeaked("a remembered secret (%s...) leaked into the playbook output near: %r"
                               % (value[:3], text[max(0, position - 80):position]))


BIN = pathlib.Path(sys.executable).parent


class PlaybookRun:
    """The outcome of one ansible-playbook run."""

    def __init__(self, returncode, stdout, stderr, records):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.records = records

    def results(self, task=None):
        """Task results (dicts) in run order, optionally only those of one task name (a role's task matches
        without its ``role : `` prefix)."""
        return [r["result"] for r in self.records if task is None or r["task"] == task or r["task"].endswith(" : " + task)]

    def result(self, task=None):
        """The one result of a task that ran on one host (or the only task of the play)."""
        found = self.results(task)
        if len(found) != 1:
            raise AssertionError("expected one result for %r, got %d:\n%s" % (task, len(found), self.output))
        return found[0]

    def failure_message(self, task):
        """The ``msg`` of a task that must have failed, on exactly one host."""
        failed = [r for r in self.failed if r["task"] == task]
        if len(failed) != 1:
            raise AssertionError("expected %r to fail on one host, it failed on %d:\n%s" % (task, len(failed), self))
        return failed[0]["result"]["msg"]

    @property
    def failed(self):
        return [r for r in self.records if r["status"] in ("failed", "unreachable")]

    @property
    def output(self):
        return self.stdout + self.stderr

    def __repr__(self):
        failures = "".join("\n%s | %s: %s" % (r["host"], r["task"], r["result"].get("msg")) for r in self.failed)
        return "PlaybookRun(rc=%s)%s\n%s" % (self.returncode, failures, self.output[-4000:])


def run_playbook(tasks=None, playbook=None, hosts=None, check=False, diff=False, verbosity=0, forks=5,
                 extra_vars=None, env=None, module_defaults=None, timeout=900, gather_facts=False, bin_dir=None,
                 collections_path=None, secrets_shown=False, inventory_file=None):
    """Run tasks (a list of task dicts) on local hosts, or a playbook file, and return a PlaybookRun.

    Every run's output and results are searched for secrets (SECRET_PATTERNS, remembered values): a leak fails the
    test that ran it, whatever that test asserts. ``secrets_shown=True`` is for a test that prints one on purpose.

    ``hosts`` names inventory hosts (all local connections), as a list or as a dict of host -> host variables;
    by default one host, ``localhost``. ``bin_dir`` (another virtualenv's bin: its ansible-playbook and Python) and
    ``collections_path`` (an installed copy of the collection) replace this checkout's.
    """
    ensure_collections_tree()
    bin_dir = pathlib.Path(bin_dir or BIN)
    python = bin_dir / "python" if bin_dir != BIN else pathlib.Path(sys.executable)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="play-"))
    hosts = hosts or ["localhost"]
    host_vars = hosts if isinstance(hosts, dict) else {host: {} for host in hosts}
    inventory = {"all": {"hosts": {host: dict(variables, ansible_connection="local", ansible_python_interpreter=str(python))
                                   for host, variables in host_vars.items()}}}
    (workdir / "inventory.yml").write_text(yaml.safe_dump(inventory))
    if playbook is None:
        play = {"name": "test", "hosts": "all", "gather_facts": gather_facts, "tasks": tasks}
        if module_defaults:
            play["module_defaults"] = module_defaults
        playbook = workdir / "play.yml"
        playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    records_file = workdir / "records.jsonl"
    command = [str(bin_dir / "ansible-playbook"), "-i", str(inventory_file or workdir / "inventory.yml"), "-f", str(forks), str(playbook)]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    if verbosity:
        command.append("-" + "v" * verbosity)
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    run_env = dict(os.environ)
    run_env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path or COLLECTIONS_PATH),
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
        "ANSIBLE_CALLBACKS_ENABLED": "record_results",
        "RECORD_RESULTS_FILE": str(records_file),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(workdir / "tmp"),
    })
    run_env.update(env or {})
    completed = subprocess.run(command, capture_output=True, text=True, env=run_env, timeout=timeout, check=False)
    records = []
    if records_file.exists():
        records = [json.loads(line) for line in records_file.read_text().splitlines() if line.strip()]
    run = PlaybookRun(completed.returncode, completed.stdout, completed.stderr, records)
    if not secrets_shown:
        check_no_secret(run.output + json.dumps([r.get("result") for r in records], default=str))
    return run
