#!/usr/bin/env node
// A real Better Auth 1.7 server for Gatehouse's integration tests: email and
// password sign-in, the `jwt` plugin (EdDSA tokens, JWKS at /api/auth/jwks)
// and the `bearer` plugin (the session token in `Authorization: Bearer`).
//
// Environment:
//   DATABASE_URL        PostgreSQL database it owns (its tables are created here)
//   BETTER_AUTH_SECRET  at least 32 characters
//   PORT                port on 127.0.0.1; 0 (default) picks a free one
//   COOKIE_SAME_SITE    optional: the session cookie's SameSite (lax, strict,
//                       none), to reproduce browser-rule misconfigurations
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
if (!databaseUrl) fail("DATABASE_URL is not set");
if (!secret || secret.length < 32) fail("BETTER_AUTH_SECRET must be at least 32 characters");
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
  secret,
  database: pool,
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
