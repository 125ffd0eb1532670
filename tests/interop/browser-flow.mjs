// A real browser against Gatehouse: Debian's headless Chromium, driven by
// playwright-core (which downloads no browser; it is pointed at the system
// one), loads a page from one origin that calls the API on another with
// `fetch(..., { credentials: 'include' })`. What Chromium did is printed as
// one JSON object on stdout for tests/integration/browser.rs to assert:
// every fetch as the page saw it, and every request as the network stack
// sent it (from the DevTools protocol: preflights, cookies sent or blocked
// and why, CORS errors), and the cookie jar as Chromium stored it.
//
// No token, cookie value or secret is ever printed: token fields become
// `token_present`/`token_length`, cookies are reported by name and
// attributes, headers by name.
//
// Input (environment):
//   BROWSER_API_URL             the API, cross-site to the page (SameSite=None server)
//   BROWSER_PAGE_ORIGIN         the frontend's origin, listed in CORS_ORIGINS
//   BROWSER_FOREIGN_ORIGIN      another origin, not listed in CORS_ORIGINS
//   BROWSER_SAME_SITE_API_URL   optional: an API on the page's site (SameSite=Lax server)
//   BROWSER_SAME_SITE_PAGE_ORIGIN  optional: the frontend for it (listed in its CORS_ORIGINS)
//   BROWSER_JWT                 the user's token from the auth provider
//   BROWSER_LEGS                optional: the legs to run, comma-separated
//                               (default: the first three below)
//   BROWSER_AUTH_URL            for auth_cookie: an auth route, on the API's
//                               host, answering GET /sign-in/without-secure and
//                               /sign-in/secure with a session cookie
//   BROWSER_SECRETS             optional: more values never to print, one a line
//   CHROMIUM_PATH               default /usr/bin/chromium
//   BROWSER_SERVE_PAGES=1       serve the pages here (node:http on 127.0.0.1 at
//                               each page origin's port); otherwise the caller
//                               serves any HTML page at each origin (the Rust
//                               test does, on ports it holds from the start)
// Legs, each in a fresh Chromium profile:
//   cross_site_default          Chromium as shipped: third-party cookies blocked
//   cross_site_cookies_allowed  a profile whose user allows third-party cookies,
//                               with the foreign origin's attempts in the middle
//   same_site                   page and API on one site (localhost, two ports)
//   auth_cookie                 third-party cookies allowed: an auth server's
//                               SameSite=None cookie without Secure, then with it
//   preview                     Chromium as shipped, a Vercel preview's two hosts:
//                               the page at the deployment URL (PAGE), the API at
//                               the branch URL (API), then FOREIGN's preflight

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const TOTAL_TIMEOUT_MS = 90_000;
const LAUNCH_TIMEOUT_MS = 30_000;
const STEP_TIMEOUT_MS = 15_000;
const FETCH_TIMEOUT_MS = 10_000;
const SETTLE_TIMEOUT_MS = 3_000;

const started = Date.now();
const timings = {};

function env(name, required = true) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    if (required) fail(`${name} is not set`);
    return undefined;
  }
  return value;
}

function fail(message) {
  process.stderr.write(`browser-flow: ${message}\n`);
  process.exit(2);
}

const LEGS = (env('BROWSER_LEGS', false) ?? 'cross_site_default,cross_site_cookies_allowed,same_site')
  .split(',')
  .map((leg) => leg.trim());
const KNOWN_LEGS = ['cross_site_default', 'cross_site_cookies_allowed', 'same_site', 'auth_cookie', 'preview'];
for (const leg of LEGS) if (!KNOWN_LEGS.includes(leg)) fail(`unknown leg ${leg} in BROWSER_LEGS`);
const needs = (...legs) => LEGS.some((leg) => legs.includes(leg));
const API = env('BROWSER_API_URL');
const PAGE = env('BROWSER_PAGE_ORIGIN');
const FOREIGN = env('BROWSER_FOREIGN_ORIGIN', needs('cross_site_cookies_allowed', 'preview'));
const LAX_API = env('BROWSER_SAME_SITE_API_URL', false);
const LAX_PAGE = env('BROWSER_SAME_SITE_PAGE_ORIGIN', false);
const JWT = env('BROWSER_JWT', needs('cross_site_default', 'cross_site_cookies_allowed', 'same_site', 'preview'));
const AUTH = env('BROWSER_AUTH_URL', needs('auth_cookie'));
const CHROMIUM = env('CHROMIUM_PATH', false) ?? '/usr/bin/chromium';
const SECRETS = [JWT, ...(env('BROWSER_SECRETS', false) ?? '').split('\n')].filter(Boolean);

if (!fs.existsSync(CHROMIUM)) {
  fail(
    `${CHROMIUM} does not exist: install Debian's chromium (tests/run does: apt-get install -y --no-install-recommends chromium)`,
  );
}

// Everything that must be closed, whatever happens.
const cleanups = [];
async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch {
      // best effort
    }
  }
}

const watchdog = setTimeout(async () => {
  process.stderr.write(`browser-flow: did not finish within ${TOTAL_TIMEOUT_MS} ms\n`);
  await Promise.race([cleanup(), new Promise((r) => setTimeout(r, 5000).unref())]);
  process.exit(3);
}, TOTAL_TIMEOUT_MS);
watchdog.unref();

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// --- the frontends ---------------------------------------------------------

async function servePage(origin) {
  const url = new URL(origin);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html><head><title>frontend ${url.origin}</title></head><body><h1>${url.origin}</h1></body></html>`);
  });
  await new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Error(`cannot serve the page at ${origin} (127.0.0.1:${url.port}): ${err.message}`)),
    );
    server.listen(Number(url.port), '127.0.0.1', resolve);
  });
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(async () => server.closeAllConnections?.());
}

// --- what the network stack did, from the DevTools protocol -----------------

const SET_COOKIE_VALUE = /^([^=;]*)=[^;]*/;

function cookieLineWithoutValue(line) {
  return line.replace(SET_COOKIE_VALUE, '$1=<value>');
}

function cookieName(line) {
  return line.split('=')[0].trim();
}

class Network {
  constructor() {
    this.requests = new Map();
  }

  static async attach(context, page) {
    const net = new Network();
    const cdp = await context.newCDPSession(page);
    const at = (id) => {
      if (!net.requests.has(id)) net.requests.set(id, { id });
      return net.requests.get(id);
    };
    cdp.on('Network.requestWillBeSent', (e) => {
      const r = at(e.requestId);
      const url = new URL(e.request.url);
      r.step = url.searchParams.get('step');
      r.method = e.request.method;
      r.path = url.pathname;
      r.host = url.host;
      r.preflight = e.initiator?.type === 'preflight';
      r.type = e.type;
    });
    cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
      const r = at(e.requestId);
      const names = Object.keys(e.headers ?? {}).map((h) => h.toLowerCase());
      r.sent_authorization = names.includes('authorization');
      r.sent_cookie_header = names.includes('cookie');
      r.origin_header = Object.entries(e.headers ?? {}).find(([k]) => k.toLowerCase() === 'origin')?.[1] ?? null;
      r.cookies_sent = [];
      r.cookies_not_sent = [];
      for (const c of e.associatedCookies ?? []) {
        if (c.blockedReasons?.length) {
          r.cookies_not_sent.push({ name: c.cookie.name, reasons: c.blockedReasons });
        } else {
          r.cookies_sent.push(c.cookie.name);
        }
      }
    });
    cdp.on('Network.responseReceivedExtraInfo', (e) => {
      const r = at(e.requestId);
      r.status = e.statusCode;
      const setCookie = Object.entries(e.headers ?? {}).find(([k]) => k.toLowerCase() === 'set-cookie')?.[1];
      r.set_cookies = setCookie ? setCookie.split('\n').map(cookieLineWithoutValue) : [];
      r.set_cookies_blocked = (e.blockedCookies ?? []).map((b) => ({
        name: b.cookie?.name ?? cookieName(b.cookieLine),
        reasons: b.blockedReasons,
      }));
      const header = (name) => Object.entries(e.headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1] ?? null;
      r.allow_origin = header('access-control-allow-origin');
      r.allow_credentials = header('access-control-allow-credentials');
    });
    cdp.on('Network.responseReceived', (e) => {
      const r = at(e.requestId);
      r.status ??= e.response.status;
    });
    cdp.on('Network.loadingFinished', (e) => {
      at(e.requestId).done = true;
    });
    cdp.on('Network.loadingFailed', (e) => {
      const r = at(e.requestId);
      r.done = true;
      r.failed = e.errorText;
      if (e.corsErrorStatus) r.cors_error = e.corsErrorStatus.corsError;
      if (e.blockedReason) r.blocked_reason = e.blockedReason;
    });
    await cdp.send('Network.enable');
    cleanups.push(() => cdp.detach());
    return net;
  }

  of(step) {
    return [...this.requests.values()]
      .filter((r) => r.step === step)
      .map(({ id, step: _step, done: _done, ...rest }) => rest);
  }

  async settled(step, ms) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const requests = [...this.requests.values()].filter((r) => r.step === step);
      if (requests.length && requests.every((r) => r.done)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

// --- steps -------------------------------------------------------------------

function redact(body) {
  if (!body || typeof body !== 'object') return body;
  const copy = { ...body };
  if ('token' in copy) {
    copy.token_present = typeof copy.token === 'string' && copy.token.length > 0;
    copy.token_length = typeof copy.token === 'string' ? copy.token.length : 0;
    copy.token_prefix = typeof copy.token === 'string' ? copy.token.slice(0, 3) : null;
    delete copy.token;
  }
  return copy;
}

/// One `fetch` from inside the page; returns what is printed, and the raw body.
async function call(page, net, step, url, init) {
  const target = new URL(url);
  target.searchParams.set('step', step);
  const t0 = Date.now();
  const seen = await withTimeout(
    page.evaluate(
      async ({ href, init, timeout }) => {
        try {
          const response = await fetch(href, { ...init, signal: AbortSignal.timeout(timeout) });
          const text = await response.text();
          let body = null;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON
          }
          return { status: response.status, body, text: body === null ? text.slice(0, 300) : undefined };
        } catch (err) {
          return { error: { name: err.name, message: err.message } };
        }
      },
      { href: target.href, init, timeout: FETCH_TIMEOUT_MS },
    ),
    STEP_TIMEOUT_MS,
    `step ${step}`,
  );
  await net.settled(step, SETTLE_TIMEOUT_MS);
  const record = {
    page_origin: await page.evaluate(() => location.origin),
    ...seen,
    body: redact(seen.body),
    ms: Date.now() - t0,
    network: net.of(step),
  };
  return { record, body: seen.body };
}

async function jar(context, url) {
  return (await context.cookies(url)).map((c) => ({
    name: c.name,
    domain: c.domain,
    path: c.path,
    httpOnly: c.httpOnly,
    secure: c.secure,
    sameSite: c.sameSite,
    expires: c.expires,
    expires_in: c.expires > 0 ? Math.round(c.expires - Date.now() / 1000) : null,
    partitioned: c.partitionKey !== undefined,
  }));
}

async function open(context, origin) {
  const page = await context.newPage();
  const net = await Network.attach(context, page);
  await page.goto(`${origin}/`, { timeout: STEP_TIMEOUT_MS });
  return { page, net };
}

async function pageFacts(page) {
  return page.evaluate(() => ({ origin: location.origin, secure_context: window.isSecureContext }));
}

/// A fresh Chromium profile (user data dir) with `prefs` as its Preferences.
async function withProfile(name, prefs, run) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gatehouse-browser-${name}-`));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  if (prefs) {
    fs.mkdirSync(path.join(dir, 'Default'));
    fs.writeFileSync(path.join(dir, 'Default', 'Preferences'), JSON.stringify(prefs));
  }
  const t0 = Date.now();
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: LAUNCH_TIMEOUT_MS,
  });
  cleanups.push(() => context.close());
  timings[`launch_${name}_ms`] = Date.now() - t0;
  try {
    const t1 = Date.now();
    const result = await run(context);
    timings[`${name}_ms`] = Date.now() - t1;
    return result;
  } finally {
    await context.close().catch(() => {});
  }
}

const bearer = (token) => ({ authorization: `Bearer ${token}` });

// --- the legs ----------------------------------------------------------------

/// Chromium as shipped: the page on one site, the API on another.
async function crossSiteDefault(context) {
  const steps = {};
  const { page, net } = await open(context, PAGE);
  await bearerFlow(steps, context, page, net);
  return steps;
}

/// A Vercel preview's two hosts, Chromium as shipped: the page loaded from
/// the deployment's own URL (`VERCEL_URL`) calls the API on the branch URL
/// (`VERCEL_BRANCH_URL`), which allows both hosts by placeholder. The bearer
/// flow works; then a page of another origin (another project's preview)
/// is refused at the preflight, so its request is never sent.
async function preview(context) {
  const steps = {};
  const { page, net } = await open(context, PAGE);
  await bearerFlow(steps, context, page, net);
  const foreign = await open(context, FOREIGN);
  steps.foreign_page = await pageFacts(foreign.page);
  steps.foreign_session_preflighted = (
    await call(foreign.page, foreign.net, 'foreign_session_preflighted', `${API}/api/auth/session`, {
      credentials: 'include',
      headers: bearer(JWT),
    })
  ).record;
  await foreign.page.close();
  return steps;
}

/// Exchange, the cookie's fate, then the session token as a bearer token
/// until logout, from `page`.
async function bearerFlow(steps, context, page, net) {
  steps.page = await pageFacts(page);
  const exchange = await call(page, net, 'exchange', `${API}/api/auth/exchange`, {
    method: 'POST',
    credentials: 'include',
    headers: bearer(JWT),
  });
  steps.exchange = exchange.record;
  const token = exchange.body?.token;
  if (token) SECRETS.push(token);
  steps.jar_after_exchange = await jar(context, API);
  steps.session_cookie_only = (
    await call(page, net, 'session_cookie_only', `${API}/api/auth/session`, { credentials: 'include' })
  ).record;
  if (token) {
    steps.session_bearer = (
      await call(page, net, 'session_bearer', `${API}/api/auth/session`, {
        credentials: 'include',
        headers: bearer(token),
      })
    ).record;
    steps.logout_bearer = (
      await call(page, net, 'logout_bearer', `${API}/api/auth/logout`, {
        method: 'POST',
        credentials: 'include',
        headers: bearer(token),
      })
    ).record;
    steps.session_bearer_after_logout = (
      await call(page, net, 'session_bearer_after_logout', `${API}/api/auth/session`, {
        credentials: 'include',
        headers: bearer(token),
      })
    ).record;
  }
  steps.jar_at_end = await jar(context, API);
}

/// A user who allows third-party cookies: the cookie flow itself, and a
/// foreign page trying to use the cookie in the middle of it.
async function crossSiteCookiesAllowed(context) {
  const steps = {};
  const { page, net } = await open(context, PAGE);
  steps.page = await pageFacts(page);
  const exchange = await call(page, net, 'exchange', `${API}/api/auth/exchange`, {
    method: 'POST',
    credentials: 'include',
    headers: bearer(JWT),
  });
  steps.exchange = exchange.record;
  const token = exchange.body?.token;
  if (token) SECRETS.push(token);
  steps.jar_after_exchange = await jar(context, API);

  // What a script on the API's own origin can read: not an HttpOnly cookie.
  const apiPage = await context.newPage();
  await apiPage.goto(`${API}/api/health`, { timeout: STEP_TIMEOUT_MS });
  steps.document_cookie_on_api_origin = await apiPage.evaluate(() => ({
    origin: location.origin,
    cookie_names: document.cookie
      .split(';')
      .map((c) => c.split('=')[0].trim())
      .filter(Boolean),
  }));
  await apiPage.close();

  steps.session_cookie_only = (
    await call(page, net, 'session_cookie_only', `${API}/api/auth/session`, { credentials: 'include' })
  ).record;
  if (token) {
    steps.session_bearer = (
      await call(page, net, 'session_bearer', `${API}/api/auth/session`, {
        credentials: 'include',
        headers: bearer(token),
      })
    ).record;
  }

  // A page of another origin, not in CORS_ORIGINS, while the cookie is live.
  const foreign = await open(context, FOREIGN);
  steps.foreign_page = await pageFacts(foreign.page);
  steps.foreign_session_simple = (
    await call(foreign.page, foreign.net, 'foreign_session_simple', `${API}/api/auth/session`, {
      credentials: 'include',
    })
  ).record;
  steps.foreign_session_preflighted = (
    await call(foreign.page, foreign.net, 'foreign_session_preflighted', `${API}/api/auth/session`, {
      credentials: 'include',
      headers: bearer(JWT),
    })
  ).record;
  steps.foreign_logout = (
    await call(foreign.page, foreign.net, 'foreign_logout', `${API}/api/auth/logout`, {
      method: 'POST',
      credentials: 'include',
    })
  ).record;
  await foreign.page.close();

  steps.session_cookie_after_foreign = (
    await call(page, net, 'session_cookie_after_foreign', `${API}/api/auth/session`, { credentials: 'include' })
  ).record;
  steps.logout_cookie_only = (
    await call(page, net, 'logout_cookie_only', `${API}/api/auth/logout`, {
      method: 'POST',
      credentials: 'include',
    })
  ).record;
  steps.jar_after_logout = await jar(context, API);
  steps.session_after_logout = (
    await call(page, net, 'session_after_logout', `${API}/api/auth/session`, { credentials: 'include' })
  ).record;
  if (token) {
    steps.session_old_token_after_logout = (
      await call(page, net, 'session_old_token_after_logout', `${API}/api/auth/session`, {
        credentials: 'include',
        headers: bearer(token),
      })
    ).record;
  }
  return steps;
}

/// Page and API on one site (two ports of localhost): a first-party cookie.
async function sameSite(context) {
  const steps = {};
  const { page, net } = await open(context, LAX_PAGE);
  steps.page = await pageFacts(page);
  const exchange = await call(page, net, 'exchange', `${LAX_API}/api/auth/exchange`, {
    method: 'POST',
    credentials: 'include',
    headers: bearer(JWT),
  });
  steps.exchange = exchange.record;
  if (exchange.body?.token) SECRETS.push(exchange.body.token);
  steps.jar_after_exchange = await jar(context, LAX_API);
  steps.session_cookie_only = (
    await call(page, net, 'session_cookie_only', `${LAX_API}/api/auth/session`, { credentials: 'include' })
  ).record;
  steps.logout_cookie_only = (
    await call(page, net, 'logout_cookie_only', `${LAX_API}/api/auth/logout`, {
      method: 'POST',
      credentials: 'include',
    })
  ).record;
  steps.jar_after_logout = await jar(context, LAX_API);
  steps.session_after_logout = (
    await call(page, net, 'session_after_logout', `${LAX_API}/api/auth/session`, { credentials: 'include' })
  ).record;
  return steps;
}

/// A session cookie set by the auth server (on the API's host, another
/// port) for a frontend on another site: first `SameSite=None` without
/// `Secure`, as a hand-written auth route or a proxy that strips `Secure`
/// sends it, then the same cookie with `Secure`. The profile allows
/// third-party cookies, so only the cookie's own attributes decide.
async function authCookie(context) {
  const steps = {};
  const { page, net } = await open(context, PAGE);
  steps.page = await pageFacts(page);
  for (const variant of ['without_secure', 'secure']) {
    const path = variant.replace('_', '-');
    steps[`sign_in_${variant}`] = (
      await call(page, net, `sign_in_${variant}`, `${AUTH}/sign-in/${path}`, { credentials: 'include' })
    ).record;
    steps[`jar_after_sign_in_${variant}`] = await jar(context, API);
    steps[`session_${variant}`] = (
      await call(page, net, `session_${variant}`, `${API}/api/auth/session`, { credentials: 'include' })
    ).record;
  }
  return steps;
}

// --- main --------------------------------------------------------------------

async function main() {
  if (process.env.BROWSER_SERVE_PAGES === '1') {
    for (const origin of [PAGE, FOREIGN, LAX_PAGE].filter(Boolean)) await servePage(origin);
  }

  const result = { api: API, page: PAGE, foreign: FOREIGN ?? null, same_site_api: LAX_API ?? null, legs: {} };
  const versioned = (run) => async (context) => {
    if (!result.chromium) {
      const page = context.pages()[0] ?? (await context.newPage());
      const cdp = await context.newCDPSession(page);
      const version = await cdp.send('Browser.getVersion');
      await cdp.detach();
      result.chromium = { product: version.product, user_agent: version.userAgent };
    }
    return run(context);
  };
  // Chrome's cookie setting "Allow third-party cookies" (0); 1 blocks them
  // in Incognito only, 2 everywhere.
  const cookiesAllowed = { profile: { cookie_controls_mode: 0 } };
  if (needs('cross_site_default')) {
    result.legs.cross_site_default = await withProfile('default', null, versioned(crossSiteDefault));
  }
  if (needs('cross_site_cookies_allowed')) {
    result.legs.cross_site_cookies_allowed = await withProfile(
      'cookies_allowed',
      cookiesAllowed,
      versioned(crossSiteCookiesAllowed),
    );
  }
  if (needs('same_site') && LAX_API && LAX_PAGE) {
    result.legs.same_site = await withProfile('same_site', null, versioned(sameSite));
  }
  if (needs('auth_cookie')) {
    result.legs.auth_cookie = await withProfile('auth_cookie', cookiesAllowed, versioned(authCookie));
  }
  if (needs('preview')) {
    result.legs.preview = await withProfile('preview', null, versioned(preview));
  }
  timings.total_ms = Date.now() - started;
  result.timings = timings;

  // Belt and braces: nothing secret leaves this process. Every secret
  // found is counted before it is masked, and the test asserts the count is
  // zero: masking alone would hide an echoed token instead of catching it.
  const occurrences = (text) =>
    SECRETS.reduce((n, secret) => n + (secret ? text.split(secret).length - 1 : 0), 0);
  result.secrets_redacted = occurrences(JSON.stringify(result));
  let text = JSON.stringify(result);
  for (const secret of SECRETS) {
    if (secret && text.includes(secret)) text = text.split(secret).join('<redacted>');
  }
  process.stdout.write(`${text}\n`);
}

try {
  await main();
} catch (err) {
  let message = String(err?.stack ?? err);
  for (const secret of SECRETS) if (secret) message = message.split(secret).join('<redacted>');
  process.stderr.write(`browser-flow: ${message}\n`);
  process.exitCode = 1;
} finally {
  await Promise.race([cleanup(), new Promise((r) => setTimeout(r, 10_000).unref())]);
  clearTimeout(watchdog);
}
