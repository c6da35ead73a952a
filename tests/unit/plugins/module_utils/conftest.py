import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@pytest.fixture(scope="session")
def key_info():
    """A real service-account key (fresh RSA) whose token_uri, port 1 on loopback, refuses every connection."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": pem,
            "client_email": "sa@p.iam.gserviceaccount.com", "client_id": "1", "token_uri": "http://127.0.0.1:1/token"}
