#!/usr/bin/env node
// A real Better Auth 1.7 server for Gatehouse's integration tests: email and
// password sign-in, the `jwt` plugin (EdDSA tokens, JWKS at /api/auth/jwks)
// and the `bearer` plugin (the session token in `Authorization: Bearer`).
//
// Environment:
//   DATABASE_URL        PostgreSQL database it owns (its tables are created here)
//   BETTER_AUTH_SECRET  at least 32 characters
//   BETTER_AUTH_SECRETS optional, instead of BETTER_AUTH_SECRET: a rotation
//                       (`2:new,1:old`, newest first), read by Better Auth itself
//   PORT                port on 127.0.0.1; 0 (default) picks a free one
//   COOKIE_SAME_SITE    optional: the session cookie's SameSite (lax, strict,
//                       none), to reproduce browser-rule misconfigurations
//   COOKIE_CACHE        optional: compact, jwt or jwe turns session.cookieCache
//                       on with that strategy (the session_data cookie)
//   COOKIE_CACHE_MAX_AGE    its maxAge in seconds (Better Auth's default: 300)
//   COOKIE_CACHE_VERSION    its version (Better Auth's default: "1")
//
// Prints `better-auth ready {"port":N,"baseURL":"http://127.0.0.1:N"}` on
// stdout once it serves; anything that goes wrong before that exits 1.

import http from "node:http";

import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt } from "better-auth/plugins";
import pg from "pg";

function fail(message) {
  console.error(`better-auth-server: ${message}`);
  process.exit(1);
}

const databaseUrl = process.env.DATABASE_URL;
const secret = process.env.BETTER_AUTH_SECRET;
const rotation = process.env.BETTER_AUTH_SECRETS;
if (!databaseUrl) fail("DATABASE_URL is not set");
if (!rotation && (!secret || secret.length < 32)) {
  fail("BETTER_AUTH_SECRET must be at least 32 characters (or set BETTER_AUTH_SECRETS)");
}
const cookieCache = process.env.COOKIE_CACHE;
if (cookieCache && !["compact", "jwt", "jwe"].includes(cookieCache)) {
  fail(`COOKIE_CACHE ${cookieCache} is not compact, jwt or jwe`);
}
const cookieCacheMaxAge = Number(process.env.COOKIE_CACHE_MAX_AGE ?? "300");
if (!(cookieCacheMaxAge > 0)) fail(`COOKIE_CACHE_MAX_AGE ${process.env.COOKIE_CACHE_MAX_AGE} is not a positive number`);
const requestedPort = Number(process.env.PORT ?? "0");
if (!Number.isInteger(requestedPort) || requestedPort < 0) fail(`PORT ${process.env.PORT} is not a port`);

// Listen first, so the base URL (issuer and audience of every JWT) carries
// the real port even when the system picked it.
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end("starting");
};
const server = http.createServer((req, res) => handler(req, res));
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(requestedPort, "127.0.0.1", resolve);
});
const port = server.address().port;
const baseURL = `http://127.0.0.1:${port}`;

const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
const auth = betterAuth({
  baseURL,
  // With BETTER_AUTH_SECRETS, Better Auth reads the rotation from the
  // environment itself (and BETTER_AUTH_SECRET, if also set, as its legacy
  // secret).
  ...(rotation ? {} : { secret }),
  database: pool,
  ...(cookieCache
    ? {
        session: {
          cookieCache: {
            enabled: true,
            strategy: cookieCache,
            maxAge: cookieCacheMaxAge,
            ...(process.env.COOKIE_CACHE_VERSION ? { version: process.env.COOKIE_CACHE_VERSION } : {}),
          },
        },
      }
    : {}),
  emailAndPassword: { enabled: true },
  plugins: [jwt(), bearer()],
  telemetry: { enabled: false },
  advanced: {
    defaultCookieAttributes: {
      ...(process.env.COOKIE_SAME_SITE ? { sameSite: process.env.COOKIE_SAME_SITE } : {}),
    },
  },
});

try {
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();
} catch (err) {
  fail(`creating the tables failed: ${err?.stack ?? err}`);
}

handler = toNodeHandler(auth);
console.log(`better-auth ready ${JSON.stringify({ port, baseURL })}`);

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close();
    pool.end().finally(() => process.exit(0));
  });
}
