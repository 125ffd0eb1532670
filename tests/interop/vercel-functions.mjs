// vercel.json's `functions` as Vercel reads it, with Vercel's own code:
// `@vercel/build-utils` 14.13.1, the version inside the pinned `vercel` CLI
// (deploy/vercel/package-lock.json; tests/integration/deploy_config.rs
// checks they agree). Prints one JSON object:
//   errors   the schema's complaints (`getFunctionsSchema`, compiled with
//            ajv as the CLI compiles it), [] when valid
//   applied  for each source file given, the pattern Vercel applies to it
//            (`findMatchingFunction`: the first pattern that matches, in
//            the file's order) and the options it gets
//            (`getLambdaOptionsFromFunction`: memory, maxDuration,
//            regions... as written into the function's .vc-config.json)
//
//   node vercel-functions.mjs VERCEL_JSON SOURCE_FILE...

import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { getFunctionsSchema, findMatchingFunction, getLambdaOptionsFromFunction } =
  require('@vercel/build-utils');
const Ajv = require('ajv');

const [file, ...sources] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node vercel-functions.mjs VERCEL_JSON SOURCE_FILE...\n');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(file, 'utf8'));
// Vercel's schema leaves a type out where it bounds a number (`memory`):
// not strict about that, as the CLI is not.
const validate = new Ajv({ allErrors: true, strictTypes: false }).compile(getFunctionsSchema());
const errors = config.functions === undefined || validate(config.functions) ? [] : validate.errors;
const applied = {};
for (const source of sources) {
  const match = findMatchingFunction(config.functions, [source]);
  applied[source] = match
    ? { pattern: match.pattern, options: await getLambdaOptionsFromFunction({ sourceFile: source, config }) }
    : null;
}
process.stdout.write(`${JSON.stringify({ errors, applied })}\n`);
