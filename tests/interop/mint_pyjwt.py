#!/usr/bin/env python3
"""Mints JWTs with PyJWT, the JWT library of most Python services, so the
integration tests check Gatehouse against tokens another stack makes.

Input: one JSON spec, or an array of them, as the first argument or on
stdin. Output: one compact JWT per spec, one per line, in order.

Spec: {
  "alg": "HS256" | "HS384" | "HS512" | "RS256" | "ES256" | "EdDSA" | ...,
  "key": {"secret": "shared secret text"} | {"pem": "-----BEGIN PRIVATE KEY-----..."}
       | {"pem_file": "path"},
  "header": {"kid": "..."},          (optional, added to the header)
  "claims": {"sub": "...", "exp": 1234567890}
}
Claims are signed as given: nothing (iat, exp) is added.
"""

import json
import sys

import jwt


def key_for(spec):
    key = spec.get("key") or {}
    if isinstance(key.get("secret"), str):
        return key["secret"].encode("utf-8")
    if isinstance(key.get("pem"), str):
        return key["pem"]
    if isinstance(key.get("pem_file"), str):
        with open(key["pem_file"], encoding="utf-8") as handle:
            return handle.read()
    raise ValueError("spec.key needs one of secret, pem, pem_file")


def mint(spec):
    alg = spec.get("alg")
    if not isinstance(alg, str):
        raise ValueError("spec.alg is missing")
    return jwt.encode(
        spec.get("claims") or {},
        key_for(spec),
        algorithm=alg,
        headers=spec.get("header") or None,
    )


def main():
    raw = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
    parsed = json.loads(raw)
    specs = parsed if isinstance(parsed, list) else [parsed]
    sys.stdout.write("".join(mint(spec) + "\n" for spec in specs))


if __name__ == "__main__":
    main()
