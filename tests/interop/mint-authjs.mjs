#!/usr/bin/env node
// Mints Auth.js session tokens (the JWE inside the `authjs.session-token`
// cookie) with `@auth/core`'s own `encode`, so Gatehouse's decryptor is
// checked against what a real Auth.js v5 app puts in the cookie. A `"v4"` mode
// makes NextAuth v4 style tokens without pulling in next-auth: the same
// derivation and header next-auth v4's `encode` uses, rebuilt from
// node:crypto and `jose`.
//
// Input: one JSON spec, or an array of them, as the first argument or on
// stdin. Output: one compact JWE per spec, one per line, in order.
//
// Spec: {
//   "secret": "AUTH_SECRET text",
//   "salt": "authjs.session-token",   (v5: the cookie name; ignored for v4)
//   "token": {"sub": "u1", "email": "a@b.c", "name": "A"},
//   "maxAge": 3600,                   (seconds; default 30 days, like Auth.js)
//   "v4": true                        (optional: NextAuth v4, dir + A256GCM)
// }
// Both modes add iat, exp (now + maxAge) and a random jti, as the libraries do.

import { hkdf } from "node:crypto";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";

import { encode } from "@auth/core/jwt";
import { EncryptJWT } from "jose";

const DEFAULT_MAX_AGE = 30 * 24 * 60 * 60;

async function mintV4(spec, maxAge) {
  const key = new Uint8Array(
    await promisify(hkdf)("sha256", spec.secret, "", "NextAuth.js Generated Encryption Key", 32),
  );
  const now = Math.floor(Date.now() / 1000);
  return new EncryptJWT(spec.token ?? {})
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .setIssuedAt(now)
    .setExpirationTime(now + maxAge)
    .setJti(crypto.randomUUID())
    .encrypt(key);
}

async function mint(spec) {
  if (typeof spec.secret !== "string") throw new Error("spec.secret is missing");
  const maxAge = spec.maxAge ?? DEFAULT_MAX_AGE;
  if (spec.v4 === true) return mintV4(spec, maxAge);
  if (typeof spec.salt !== "string") throw new Error("spec.salt (the cookie name) is missing");
  return encode({ token: spec.token ?? {}, secret: spec.secret, salt: spec.salt, maxAge });
}

const input = process.argv[2] ?? readFileSync(0, "utf8");
const parsed = JSON.parse(input);
const specs = Array.isArray(parsed) ? parsed : [parsed];
const tokens = [];
for (const spec of specs) tokens.push(await mint(spec));
process.stdout.write(tokens.join("\n") + "\n");
