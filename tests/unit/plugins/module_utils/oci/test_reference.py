import pytest

from ansible_collections.configsync.oci.plugins.module_utils.oci.reference import ReferenceError, parse_reference, validate_tag

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("text, host, repository, tag, digest", [
    ("us-docker.pkg.dev/proj/repo/test-namespace:v1", "us-docker.pkg.dev", "proj/repo/test-namespace", "v1", None),
    ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app", None, None),
    ("localhost/app:latest", "localhost", "app", "latest", None),
    ("localhost:5000/a/b/c:1.2.3-rc_1", "localhost:5000", "a/b/c", "1.2.3-rc_1", None),
    ("registry.example.com/a__b/c-d.e:_x", "registry.example.com", "a__b/c-d.e", "_x", None),
    ("gcr.io/p/app@" + DIGEST, "gcr.io", "p/app", None, DIGEST),
    ("gcr.io/p/app:v1@" + DIGEST, "gcr.io", "p/app", "v1", DIGEST),
    ("[::1]:5000/app:v1", "[::1]:5000", "app", "v1", None),
])
def test_valid_references(text, host, repository, tag, digest):
    ref = parse_reference(text)
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (host, repository, tag, digest)
    assert str(ref) == text


def test_pinned_and_tagged_forms():
    ref = parse_reference("127.0.0.1:5000/team/app:v1")
    assert ref.name == "127.0.0.1:5000/team/app"
    assert ref.with_digest(DIGEST) == "127.0.0.1:5000/team/app@" + DIGEST
    assert ref.with_tag("v2") == "127.0.0.1:5000/team/app:v2"


@pytest.mark.parametrize("text, fragment", [
    ("us-docker.pkg.dev/proj/Repo/app:v1", "'Repo' is not valid (repository names are lowercase)"),
    ("us-docker.pkg.dev/proj/app:v1!", "tag 'v1!' is not valid"),
    ("us-docker.pkg.dev/proj/app:.v1", "tag '.v1' is not valid"),
    ("us-docker.pkg.dev/proj/app:" + "a" * 129, "is not valid"),
    ("team/app:v1", "has no registry host"),
    ("app:v1", "has no registry host"),
    ("us-docker.pkg.dev/", "has no repository path"),
    ("us-docker.pkg.dev/a//b", "'' is not valid"),
    ("us-docker.pkg.dev/a/b-:v1", "'b-' is not valid"),
    ("us-docker.pkg.dev/a/b@sha256:123", "digest 'sha256:123' is not valid"),
    ("bad_host.example/a", "not a valid host name"),
    ("", "non-empty"),
    (" us-docker.pkg.dev/a", "whitespace"),
])
def test_invalid_references_name_the_bad_part(text, fragment):
    with pytest.raises(ReferenceError) as caught:
        parse_reference(text)
    assert fragment in str(caught.value)


@pytest.mark.parametrize("tag", ["v1", "latest", "_", "A.b-c_d", "a" * 128])
def test_valid_tags(tag):
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "-v1", ".v1", "v1/2", "v 1", "a" * 129, "ü"])
def test_invalid_tags(tag):
    with pytest.raises(ReferenceError):
        validate_tag(tag)


@pytest.mark.parametrize("text, host, repository", [
    ("app:v1", None, "app"),
    ("library/busybox:1.36", None, "library/busybox"),
    ("localhost/app:v1", "localhost", "app"),
    ("us-docker.pkg.dev/p/r/app:v1", "us-docker.pkg.dev", "p/r/app"),
])
def test_without_required_host_a_hostless_reference_is_docker_hubs(text, host, repository):
    ref = parse_reference(text, require_host=False)
    assert (ref.host, ref.repository, ref.tag) == (host, repository, text.rsplit(":", 1)[1])
    assert str(ref) == text


@pytest.mark.parametrize("text", ["Team/app:v1", "app:v 1", "bad_host.example/a", "app@sha256:123"])
def test_without_required_host_the_rest_of_the_grammar_holds(text):
    with pytest.raises(ReferenceError):
        parse_reference(text, require_host=False)
