import json
import os
import subprocess
import sys

import pytest
from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import CLOUD_PLATFORM_SCOPE, access_token
from ansible_collections.configsync.oci.plugins.module_utils.gcp.token_cache import (
    EXPIRY_MARGIN, TokenCache, default_dir, identity_key,
)

NOW = 1000000.0
# key_info (tests/unit/plugins/module_utils/conftest.py) names a token_uri at port 1, which refuses connections: any
# attempt to mint fails, so a returned token can only come from the cache.


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("GCP_API_ENDPOINT", "GCP_OAUTH2_ENDPOINT", "GCP_SCOPES"):
        monkeypatch.delenv(name, raising=False)


def cache_at(tmp_path, clock=lambda: NOW):
    return TokenCache(str(tmp_path / "tokens"), clock=clock)


def test_default_dir_follows_the_environment(tmp_path):
    assert default_dir({"CONFIGSYNC_OCI_TOKEN_CACHE": "off"}) is None
    assert default_dir({"CONFIGSYNC_OCI_TOKEN_CACHE": " OFF "}) is None
    assert default_dir({"CONFIGSYNC_OCI_TOKEN_CACHE": "/x/y"}) == "/x/y"
    assert default_dir({"XDG_CACHE_HOME": "/c"}) == "/c/configsync.oci/tokens"
    assert default_dir({}).endswith("/.cache/configsync.oci/tokens")


def test_every_part_of_the_identity_changes_the_key(key_info):
    base = identity_key(key_info, [CLOUD_PLATFORM_SCOPE])
    assert identity_key(key_info, [CLOUD_PLATFORM_SCOPE]) == base
    assert identity_key(dict(key_info, private_key_id="k2"), [CLOUD_PLATFORM_SCOPE]) != base
    assert identity_key(dict(key_info, client_email="other@p.iam.gserviceaccount.com"), [CLOUD_PLATFORM_SCOPE]) != base
    assert identity_key(dict(key_info, token_uri="https://oauth2.googleapis.com/token"), [CLOUD_PLATFORM_SCOPE]) != base
    assert identity_key(key_info, [CLOUD_PLATFORM_SCOPE, "https://www.googleapis.com/auth/userinfo.email"]) != base
    assert identity_key(key_info, [CLOUD_PLATFORM_SCOPE], impersonate="t@p.iam.gserviceaccount.com") != base
    # The file name is a hash: nothing of the key or the email shows in it.
    assert "sa@p" not in base and len(base) == 64


def test_a_kept_token_is_private_and_served_until_the_margin(tmp_path):
    now = [NOW]
    cache = cache_at(tmp_path, clock=lambda: now[0])
    cache.put("k", "ya29.kept", NOW + 3600)
    directory = tmp_path / "tokens"
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    assert oct((directory / "k.json").stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in directory.iterdir()] == ["k.json"]
    assert cache.get("k") == "ya29.kept"
    now[0] = NOW + 3600 - EXPIRY_MARGIN - 1
    assert cache.get("k") == "ya29.kept"
    now[0] = NOW + 3600 - EXPIRY_MARGIN
    assert cache.get("k") is None
    assert cache.get("other") is None


def test_a_cache_others_can_read_or_tamper_with_is_not_used(tmp_path):
    cache = cache_at(tmp_path)
    cache.put("k", "ya29.kept", NOW + 3600)
    path = tmp_path / "tokens" / "k.json"
    path.chmod(0o644)
    assert cache.get("k") is None
    path.chmod(0o600)
    (tmp_path / "tokens").chmod(0o755)
    assert cache.get("k") is None
    # Nor is a world-readable directory written to.
    cache.put("k2", "ya29.other", NOW + 3600)
    assert not (tmp_path / "tokens" / "k2.json").exists()


def test_a_symlinked_or_broken_entry_is_a_miss(tmp_path):
    cache = cache_at(tmp_path)
    cache.put("k", "ya29.kept", NOW + 3600)
    target = tmp_path / "tokens" / "k.json"
    os.symlink(str(target), str(tmp_path / "tokens" / "link.json"))
    assert cache.get("link") is None
    target.write_text("{not json")
    assert cache.get("k") is None
    target.write_text(json.dumps({"token": "", "expiry": NOW + 3600}))
    assert cache.get("k") is None


def test_minting_holds_a_lock_per_identity(tmp_path):
    import fcntl
    cache = cache_at(tmp_path)
    with cache.minting("a"):
        lock = os.open(str(tmp_path / "tokens" / "a.lock"), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with cache.minting("b"):  # another identity is not held up
                pass
        finally:
            os.close(lock)
    lock = os.open(str(tmp_path / "tokens" / "a.lock"), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(lock)


def service_account_params(key_info, **extra):
    return dict(auth_kind="serviceaccount", service_account_contents=json.dumps(key_info), scopes=[CLOUD_PLATFORM_SCOPE], **extra)


def test_access_token_answers_from_the_cache_for_the_same_identity_only(tmp_path, key_info):
    directory = str(tmp_path / "tokens")
    TokenCache(directory).put(identity_key(key_info, [CLOUD_PLATFORM_SCOPE]), "ya29.kept", 4102444800)
    assert access_token(service_account_params(key_info), cache_dir=directory) == "ya29.kept"
    # Another scope set is another identity: it mints, and minting at port 1 fails.
    with pytest.raises(Exception):
        access_token(service_account_params(key_info, scopes=["https://www.googleapis.com/auth/userinfo.email"]),
                     cache_dir=directory)
    # A token an API refused is never offered again; cached=False never reads the cache.
    with pytest.raises(Exception):
        access_token(service_account_params(key_info), rejected="ya29.kept", cache_dir=directory)
    with pytest.raises(Exception):
        access_token(service_account_params(key_info), cached=False, cache_dir=directory)
    assert access_token(service_account_params(key_info), rejected="ya29.older", cache_dir=directory) == "ya29.kept"


def test_a_cache_hit_imports_nothing_of_google_auth(tmp_path, key_info):
    directory = str(tmp_path / "tokens")
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(key_info))
    TokenCache(directory).put(identity_key(key_info, [CLOUD_PLATFORM_SCOPE]), "ya29.kept", 4102444800)
    program = (
        "import sys\n"
        "from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import access_token\n"
        "token = access_token({'auth_kind': 'serviceaccount', 'service_account_file': sys.argv[1], 'scopes': None})\n"
        "print(token, sorted(m for m in sys.modules if m.startswith('google')))\n"
    )
    env = dict(os.environ, CONFIGSYNC_OCI_TOKEN_CACHE=directory, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", program, str(key_file)], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ya29.kept []"
