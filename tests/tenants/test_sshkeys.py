"""The key parser on its own: every rejection names its reason, fingerprints match OpenSSH."""

import base64
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ValidationError

from tenants.sshkeys import parse_public_key

from .keys import ecdsa_key, ed25519_key, line, rsa_key, wire


def rejection(text):
    with pytest.raises(ValidationError) as info:
        parse_public_key(text)
    return info.value.code


@pytest.mark.parametrize(
    "make",
    [ed25519_key, rsa_key, lambda: ecdsa_key(ec.SECP256R1), lambda: ecdsa_key(ec.SECP384R1),
     lambda: ecdsa_key(ec.SECP521R1)],
)
def test_it_accepts_the_common_key_types(make):
    text = make()
    key = parse_public_key(text)
    assert key.openssh == text
    assert key.fingerprint.startswith("SHA256:") and not key.fingerprint.endswith("=")


def test_it_accepts_security_key_types():
    sk_ed = wire(b"sk-ssh-ed25519@openssh.com", b"\x01" * 32, b"ssh:")
    assert parse_public_key(line("sk-ssh-ed25519@openssh.com", sk_ed)).key_type == "sk-ssh-ed25519@openssh.com"
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    sk_ec = wire(b"sk-ecdsa-sha2-nistp256@openssh.com", b"nistp256", point, b"ssh:")
    assert parse_public_key(line("sk-ecdsa-sha2-nistp256@openssh.com", sk_ec)).comment == ""


def test_the_comment_may_contain_spaces():
    assert parse_public_key(ed25519_key("Alice Example (work laptop)")).comment == "Alice Example (work laptop)"


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="ssh-keygen (OpenSSH client) is not installed")
def test_fingerprint_is_what_ssh_keygen_prints(tmp_path):
    text = ed25519_key()
    (tmp_path / "k.pub").write_text(text + "\n")
    printed = subprocess.run(["ssh-keygen", "-lf", tmp_path / "k.pub"], capture_output=True, text=True, check=True)
    assert printed.stdout.split()[1] == parse_public_key(text).fingerprint


def test_it_rejects_short_rsa_keys():
    assert rejection(rsa_key(1024)) == "rsa_short"


def test_it_rejects_bad_base64():
    assert rejection("ssh-ed25519 AAAA!!!notbase64 x") == "base64"


def test_it_rejects_unknown_types():
    assert rejection("ssh-dss AAAAB3NzaC1kc3MAAACBAP x") == "type"


def test_it_rejects_a_blob_of_another_type():
    ed_blob = base64.b64decode(ed25519_key().split()[1])
    assert rejection(line("ssh-rsa", ed_blob)) == "type_mismatch"


def test_it_rejects_ed25519_keys_of_the_wrong_length():
    assert rejection(line("ssh-ed25519", wire(b"ssh-ed25519", b"\x01" * 31))) == "blob"


def test_it_rejects_trailing_bytes():
    assert rejection(line("ssh-ed25519", wire(b"ssh-ed25519", b"\x01" * 32) + b"x")) == "blob"


def test_it_rejects_ecdsa_points_off_the_curve():
    bogus = b"\x04" + b"\x01" * 64
    assert rejection(line("ecdsa-sha2-nistp256", wire(b"ecdsa-sha2-nistp256", b"nistp256", bogus))) == "blob"


def test_it_rejects_an_ecdsa_curve_that_does_not_match_the_type():
    blob = base64.b64decode(ecdsa_key(ec.SECP384R1).split()[1])
    assert rejection(line("ecdsa-sha2-nistp256", blob)) in ("type_mismatch", "blob")


@pytest.mark.parametrize("text", ["", "   ", "garbage", "-----BEGIN OPENSSH PRIVATE KEY-----"])
def test_it_rejects_garbage(text):
    assert rejection(text) in ("required", "format", "type")


def test_it_takes_one_key_only():
    assert rejection(ed25519_key() + "\n" + ed25519_key()) == "multiple_lines"
