#!/usr/bin/env node
// Mints JWTs with `jose`, the JOSE library most Node auth servers use, so
// the integration tests check Gatehouse against tokens a real issuer makes.
//
// Input: one JSON spec, or an array of them, as the first argument or on
// stdin. Output: one compact JWT per spec, one per line, in order.
//
// Spec: {
//   "alg": "RS256" | "PS256" | "ES256" | "ES384" | "EdDSA" | "HS256" | ...,
//   "key": {"pem": "-----BEGIN PRIVATE KEY-----..."} | {"pem_file": "path"}
//        | {"jwk": {...private JWK...}} | {"secret": "shared secret text"},
//   "header": {"kid": "...", "typ": "JWT", ...},   (optional, added to the protected header)
//   "claims": {"sub": "...", "exp": 1234567890, ...}
// }
// Claims are signed as given: nothing (iat, exp) is added.
//
// Or an encrypted token (compact JWE, `alg: dir`), as providers hand out
// tokens that are not for the API (Auth0's access token requested without an
// audience: {"alg":"dir","enc":"A256GCM","iss":"https://<domain>/"}):
// { "encrypt": {"enc": "A256GCM"}, "header": {"iss": "..."}, "claims": {...} }
// with a fresh random key: only its header is meant to be read.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

import { CompactEncrypt, SignJWT, importJWK, importPKCS8 } from "jose";

async function keyFor(spec) {
  const key = spec.key ?? {};
  if (typeof key.secret === "string") return new TextEncoder().encode(key.secret);
  if (typeof key.pem === "string") return importPKCS8(key.pem, spec.alg);
  if (typeof key.pem_file === "string") return importPKCS8(readFileSync(key.pem_file, "utf8"), spec.alg);
  if (key.jwk && typeof key.jwk === "object") return importJWK(key.jwk, spec.alg);
  throw new Error("spec.key needs one of secret, pem, pem_file, jwk");
}

async function encrypt(spec) {
  const enc = spec.encrypt.enc ?? "A256GCM";
  const bytes = { A128GCM: 16, A192GCM: 24, A256GCM: 32 }[enc];
  if (!bytes) throw new Error(`spec.encrypt.enc ${enc} is not an AES-GCM encryption`);
  const header = { ...(spec.header ?? {}), alg: "dir", enc };
  const plaintext = new TextEncoder().encode(JSON.stringify(spec.claims ?? {}));
  return new CompactEncrypt(plaintext).setProtectedHeader(header).encrypt(randomBytes(bytes));
}

async function mint(spec) {
  if (spec.encrypt) return encrypt(spec);
  if (typeof spec.alg !== "string") throw new Error("spec.alg is missing");
  const header = { ...(spec.header ?? {}), alg: spec.alg };
  return new SignJWT(spec.claims ?? {}).setProtectedHeader(header).sign(await keyFor(spec));
}

const input = process.argv[2] ?? readFileSync(0, "utf8");
const parsed = JSON.parse(input);
const specs = Array.isArray(parsed) ? parsed : [parsed];
const tokens = [];
for (const spec of specs) tokens.push(await mint(spec));
process.stdout.write(tokens.join("\n") + "\n");
