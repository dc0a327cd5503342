"""Real signing keys for tests: RSA and EC key pairs, their JWKS, tokens signed with them."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.test"
AUDIENCE = "gateway"


class KeyPair:
    def __init__(self, kid: str, algorithm: str) -> None:
        self.kid = kid
        self.algorithm = algorithm
        if algorithm.startswith("RS"):
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.jwk = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        self.jwk |= {"kid": kid, "use": "sig", "alg": algorithm}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid, **header}
        )


def jwks(*pairs: KeyPair) -> dict[str, Any]:
    return {"keys": [pair.jwk for pair in pairs]}


def claims(subject: str = "1", **extra: Any) -> dict[str, Any]:
    """Valid claims for the test issuer and audience, for ten minutes."""
    now = int(time.time())
    return {"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600} | extra
