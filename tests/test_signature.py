import json
from pathlib import Path

import pytest

from app.signature import appsecret_proof, is_valid, sign

VECTOR = (Path(__file__).parent / "fixtures" / "meta-captured-text-event.json").read_bytes()
VECTOR_SECRET = "60efff025951cddde78c8d03de52cc90"
VECTOR_SIG = "sha256=2c28be6e4b8c62b732b3487f445dbec6624868db6844b347567ebc86d7da3ad4"


def test_meta_captured_vector_is_accepted():
    assert len(VECTOR) == 274
    assert is_valid(VECTOR, VECTOR_SIG, VECTOR_SECRET)


@pytest.mark.parametrize("position", range(274))
def test_any_one_byte_change_is_rejected(position):
    changed = bytearray(VECTOR)
    changed[position] ^= 0x01
    assert not is_valid(bytes(changed), VECTOR_SIG, VECTOR_SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=3daa41999293ff66c3eb313e04bcf77861bb0276",
        VECTOR_SIG[7:],
        "sha256=zz\u00e9",
    ],
)
def test_missing_or_malformed_header_is_rejected(header):
    assert not is_valid(VECTOR, header, VECTOR_SECRET)


def test_wrong_secret_is_rejected():
    assert not is_valid(VECTOR, VECTOR_SIG, "another-secret")


def test_signature_covers_raw_bytes_not_reserialised_json():
    raw = b'{"text":"\\u00e4"}'
    assert is_valid(raw, sign(raw, "s3cret"), "s3cret")
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    assert not is_valid(reserialised, sign(raw, "s3cret"), "s3cret")


def test_appsecret_proof_is_hmac_sha256_of_token_keyed_by_secret():
    import hashlib
    import hmac

    expected = hmac.new(b"secret", b"token", hashlib.sha256).hexdigest()
    assert appsecret_proof("token", "secret") == expected
