from ansible_collections.configsync.oci.plugins.module_utils.base import kubeconfig_secret_values, service_account_public_values


def test_kubeconfig_secret_values_are_the_users_credentials_only():
    config = {
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1", "certificate-authority-data": "Q0E="}}],
        "users": [
            {"name": "admin", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}},
            {"name": "bot", "user": {"token": "tok-123"}},
            {"name": "basic", "user": {"username": "u", "password": "pw"}},
            {"name": "gke", "user": {"exec": {"command": "gke-gcloud-auth-plugin", "env": [{"name": "X", "value": "secret-env"}]}}},
            {"name": "oidc", "user": {"auth-provider": {"config": {"id-token": "idt", "refresh-token": "rt", "client-secret": "cs"}}}},
        ],
    }
    assert sorted(kubeconfig_secret_values(config)) == sorted(["S0VZ", "tok-123", "pw", "secret-env", "idt", "rt", "cs"])
    assert kubeconfig_secret_values("/path/to/kubeconfig") == []


def test_service_account_public_values_leave_the_key_masked():
    key = {"type": "service_account", "project_id": "my-project", "private_key_id": "abc", "private_key": "-----BEGIN...",
           "client_email": "sa@my-project.iam.gserviceaccount.com"}
    public = service_account_public_values(key)
    assert "my-project" in public and "sa@my-project.iam.gserviceaccount.com" in public
    assert "abc" not in public and "-----BEGIN..." not in public
    assert service_account_public_values('{"private_key": "x"}') == []
