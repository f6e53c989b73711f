"""RS256 checks shared by the test servers (the standard library has no RSA)."""

import subprocess
import tempfile


def rs256_verify(public_key_path, data, signature):
    """RSASSA-PKCS1-v1_5 SHA-256 with the `openssl` command (the standard library has no RSA)."""
    with tempfile.NamedTemporaryFile() as handle:
        handle.write(signature)
        handle.flush()
        result = subprocess.run(["openssl", "dgst", "-sha256", "-verify", public_key_path, "-signature",
                                 handle.name], input=data, capture_output=True, timeout=10)
    return result.returncode == 0
