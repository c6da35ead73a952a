"""Security Token Service v1 (``sts.googleapis.com``) for the emulator: the token exchange of fleet Workload Identity.

``POST /v1/token`` (form-encoded, RFC 8693 as Google documents it: grant_type
``urn:ietf:params:oauth:grant-type:token-exchange``, audience, scope, requested_token_type
``urn:ietf:params:oauth:token-type:access_token``, subject_token, subject_token_type) exchanges a Kubernetes service
account token of a fleet member cluster for a federated Google access token. The audience is
``identitynamespace:POOL:IDENTITY_PROVIDER``, what Config Sync's reconciler-manager writes into the reconciler's
``external_account`` credential; the provider is a GKE Hub membership's ``authority``: its ``identityProvider`` and
``workloadIdentityPool``, its ``issuer`` and its ``oidcJwks`` (the cluster's service-account verification keys,
seeded with ``POST /__emulator/memberships {..., issuer, oidcJwks}``, tests/harness/gke_fleet.py).

The subject token must be a JWT signed by one of those keys (RS256 or ES256: kube-apiserver signs with its
service-account key), issued by that ``issuer``, unexpired, with the pool among its audiences, and with subject
``system:serviceaccount:NAMESPACE:KSA``. The federated token's principal is ``POOL[NAMESPACE/KSA]``, which IAM
matches as ``serviceAccount:POOL[NAMESPACE/KSA]`` (the member GKE Workload Identity uses for the same KSA).

Errors are OAuth's ``{"error", "error_description"}`` with HTTP 400; docs/emulator.md says which texts are Google's
(recorded in public issues) and which are the emulator's own. This module never imports gcp_emulator (which may
run as ``__main__``): the emulator hands over its state and its token issuer.
"""
import base64
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

STS_PATH = "/v1/token"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TOKEN_TYPES = frozenset(["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token"])
IDENTITY_NAMESPACE = "identitynamespace:"
WORKLOAD_POOL_PROVIDER = "//iam.googleapis.com/"
KSA_SUBJECT = "system:serviceaccount:"
FEDERATED_TOKEN_LIFETIME = 3599
CLOCK_SKEW = 300

# Google's texts, as public issues quote them (docs/emulator.md has the sources).
INVALID_AUDIENCE = ('Invalid value for "audience". This value should be the full resource name of the Identity '
                    'Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list '
                    'of possible formats.')
INVALID_TARGET = ('The target service indicated by the "audience" parameters is invalid. This might either be because '
                  'the pool or provider is disabled or deleted or because it doesn\'t exist.')
ISSUER_UNREACHABLE = "Error connecting to the given credential's issuer."


class StsError(Exception):
    """An STS error answer: HTTP ``code`` with ``{"error": error, "error_description": description}``."""

    def __init__(self, error, description, code=400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.code = code

    def body(self):
        return {"error": self.error, "error_description": self.description}


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_int(text):
    return int.from_bytes(b64url_decode(text), "big")


def jwk_public_key(jwk):
    """A cryptography public key for one RFC 7517 key (RSA, or EC P-256), or None for other kinds."""
    if jwk.get("kty") == "RSA":
        return rsa.RSAPublicNumbers(b64url_int(jwk["e"]), b64url_int(jwk["n"])).public_key()
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        return ec.EllipticCurvePublicNumbers(b64url_int(jwk["x"]), b64url_int(jwk["y"]), ec.SECP256R1()).public_key()
    return None


def signature_valid(alg, key, signature, signed):
    try:
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            return True
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) and len(signature) == 64:
            # JWS carries r || s; cryptography wants DER.
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False


def parse_jwks(oidc_jwks):
    """The keys of a membership's ``oidcJwks`` (bytes in the API, so base64 in JSON; raw JSON text is taken too)."""
    if not oidc_jwks:
        return []
    text = oidc_jwks
    if not text.lstrip().startswith("{"):
        text = base64.b64decode(text).decode("utf-8")
    return json.loads(text).get("keys") or []


def verify_jwt(token, issuer, jwks):
    """The claims of a JWT signed by one of ``jwks`` and issued by ``issuer``; raises StsError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise StsError("invalid_grant", "Unable to parse the ID Token.")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, TypeError):
        raise StsError("invalid_grant", "Unable to parse the ID Token.")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise StsError("invalid_grant", "Unable to parse the ID Token.")
    if claims.get("iss") != issuer:
        raise StsError("invalid_grant", "The issuer in ID Token {0} does not match the expected issuer {1}.".format(
            claims.get("iss"), issuer))
    candidates = [jwk for jwk in jwks if "kid" not in header or jwk.get("kid") == header["kid"]]
    signed = (parts[0] + "." + parts[1]).encode("ascii")
    if not any(signature_valid(header.get("alg"), jwk_public_key(jwk), signature, signed) for jwk in candidates):
        raise StsError("invalid_grant", "Invalid JWT signature.")
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, (int, float)) or exp < now - CLOCK_SKEW:
        raise StsError("invalid_grant", "The ID Token has expired.")
    if isinstance(nbf, (int, float)) and nbf > now + CLOCK_SKEW:
        raise StsError("invalid_grant", "The ID Token is not valid yet.")
    return claims


def first(form, name):
    values = form.get(name) or [""]
    return values[0]


class Sts:
    """The exchange, on the emulator's state (memberships and their authorities) and its token issuer."""

    def __init__(self, emulator):
        self.emulator = emulator

    def provider(self, pool, identity_provider):
        """The authority of the membership whose workload identity pool and identity provider these are, or None."""
        with self.emulator.lock:
            for stored in self.emulator.memberships.values():
                authority = stored.get("authority") or {}
                if authority.get("workloadIdentityPool") == pool and authority.get("identityProvider") == identity_provider:
                    return dict(authority)
        return None

    def exchange(self, form):
        """The answer to one ``POST /v1/token``: the token-exchange response, or raises StsError."""
        if first(form, "grant_type") != TOKEN_EXCHANGE:
            raise StsError("unsupported_grant_type", 'Invalid value for "grant_type".')
        if first(form, "requested_token_type") != ACCESS_TOKEN_TYPE:
            raise StsError("invalid_request", 'Invalid value for "requested_token_type".')
        if first(form, "subject_token_type") not in SUBJECT_TOKEN_TYPES:
            raise StsError("invalid_request", 'Invalid value for "subject_token_type".')
        if not first(form, "subject_token"):
            raise StsError("invalid_request", 'Missing value for "subject_token".')
        audience = first(form, "audience")
        if audience.startswith(IDENTITY_NAMESPACE):
            pool, dummy, identity_provider = audience[len(IDENTITY_NAMESPACE):].partition(":")
            if not pool or not identity_provider:
                raise StsError("invalid_request", INVALID_AUDIENCE)
        elif audience.startswith(WORKLOAD_POOL_PROVIDER):
            raise StsError("invalid_target", INVALID_TARGET)  # no workload identity pools of that kind here
        else:
            raise StsError("invalid_request", INVALID_AUDIENCE)
        authority = self.provider(pool, identity_provider)
        if authority is None:
            raise StsError("invalid_target", INVALID_TARGET)
        jwks = parse_jwks(authority.get("oidcJwks"))
        if not jwks:
            raise StsError("invalid_grant", ISSUER_UNREACHABLE)  # no keys of that issuer to check the token with
        claims = verify_jwt(first(form, "subject_token"), authority.get("issuer"), jwks)
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        if pool not in audiences:
            raise StsError("invalid_grant", "The audience in ID Token {0} does not match the expected audience {1}.".format(
                json.dumps(audiences), pool))
        subject = claims.get("sub") or ""
        namespace, dummy, ksa = subject[len(KSA_SUBJECT):].partition(":") if subject.startswith(KSA_SUBJECT) else ("", "", "")
        if not namespace or not ksa or ":" in ksa:
            raise StsError("invalid_grant", "The subject in ID Token {0} is not a Kubernetes service account.".format(subject))
        lifetime = max(1, min(FEDERATED_TOKEN_LIFETIME, int(claims["exp"] - time.time())))
        principal = "{0}[{1}/{2}]".format(pool, namespace, ksa)
        token = self.emulator.issue_token(principal, lifetime)
        with self.emulator.lock:
            self.emulator.tokens[token]["source"] = "sts"
        return {"access_token": token, "issued_token_type": ACCESS_TOKEN_TYPE, "token_type": "Bearer", "expires_in": lifetime}
