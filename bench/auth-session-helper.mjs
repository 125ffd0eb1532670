#!/usr/bin/env node
// Small helpers for bench/auth-session (Node is already required there for
// the Better Auth server, so no jq is needed). The function itself is
// started by `gatehouse-bench launch`.
//
//   node bench/auth-session-helper.mjs json <path> < file.json
//       prints the value at a dotted path (`user.id`, `session.userId`);
//       exits 1 when it is missing or the input is not JSON
//   node bench/auth-session-helper.mjs break-signature <jwt>
//       prints the JWT with one byte of its signature changed (a real
//       signature check is needed to refuse it; header and claims untouched)

import fs from "node:fs";

function fail(message) {
  console.error(`auth-session-helper: ${message}`);
  process.exit(1);
}

const [command, ...args] = process.argv.slice(2);

switch (command) {
  case "json": {
    const path = args[0] ?? fail("json needs a path");
    let value;
    try {
      value = JSON.parse(fs.readFileSync(0, "utf8"));
    } catch (err) {
      fail(`the input is not JSON: ${err.message}`);
    }
    for (const key of path.split(".")) {
      if (value === null || typeof value !== "object" || !(key in value)) fail(`no ${path}`);
      value = value[key];
    }
    console.log(typeof value === "string" ? value : JSON.stringify(value));
    break;
  }

  case "break-signature": {
    const parts = (args[0] ?? "").split(".");
    if (parts.length !== 3 || parts[2].length < 16) fail("break-signature needs a compact JWS");
    // Change a character in the middle of the signature: every bit of it is
    // significant there (the last character carries padding bits).
    const signature = Buffer.from(parts[2], "base64url");
    signature[10] ^= 0x01;
    parts[2] = signature.toString("base64url");
    console.log(parts.join("."));
    break;
  }

  default:
    fail(`unknown command ${command ?? "(none)"}: json <path> | break-signature <jwt>`);
}
