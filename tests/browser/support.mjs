// Helpers for the browser tests: the real stack's public GraphQL API, tokens, and Debian's chromium
// driven by playwright-core (no browser download). Settings come from the environment that
// tests/browser/test_browser.py passes on (.env).
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// playwright-core is installed with the console's npm packages (console/package-lock.json).
const { chromium } = createRequire(new URL('../../console/package.json', import.meta.url))('playwright-core');

const env = process.env;
export const GATEWAY = `http://127.0.0.1:${env.GATEWAY_PORT || 4000}/graphql`;
export const CONSOLE = `http://localhost:${env.CONSOLE_PORT || 4100}`;
export const ARTIFACTS = env.BROWSER_ARTIFACTS || join(process.cwd(), 'test-artifacts', 'browser');
mkdirSync(ARTIFACTS, { recursive: true });

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
export function jwt(claims, ttlSeconds = 900) {
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ exp: Math.floor(Date.now() / 1000) + ttlSeconds, ...claims })}`;
  return `${body}.${createHmac('sha256', env.JWT_SECRET).update(body).digest('base64url')}`;
}

export const unique = (prefix) => `${prefix}-${randomUUID().slice(0, 12)}`;

/** A shop of its own for one test, with an admin token (admins may also ingest). */
export function newShop() {
  const shop = unique('shop-browser');
  const adminToken = jwt({ sub: 'admin', shop, roles: ['admin'] });
  return {
    shop,
    adminToken,
    admin: { authorization: `Bearer ${adminToken}` },
    customer: (id) => ({ authorization: `Bearer ${jwt({ sub: id, shop })}` }),
    customerToken: (id) => jwt({ sub: id, shop }),
  };
}

export async function gql(query, variables, headers) {
  const response = await fetch(GATEWAY, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
  return body.data;
}

export async function eventually(probe, { timeout = 20000, interval = 250, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export async function newCustomer(shop, over = {}) {
  const id = unique('c');
  await gql('mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }',
    { i: { id, email: `${id}@example.com`, firstName: 'Anna', locale: 'en', ...over } }, shop.admin);
  return id;
}

/** Record an order and move it along; net 57.40 - 4.90 - 7.50 = 45.00 → 45 points at the default rate. */
export async function order(shop, customerId, steps = ['PAID'], productId = 'p-mug') {
  const id = unique('o');
  await gql('mutation($i: OrderInput!) { recordOrder(input: $i) { id } }', { i: {
    id, customerId, currency: 'EUR', total: '57.40', shippingTotal: '4.90', taxTotal: '7.50',
    placedAt: new Date().toISOString(), lines: [{ productId, quantity: 2, unitPrice: '25.00' }] } }, shop.admin);
  for (const status of steps) {
    await gql('mutation($id: ID!, $s: OrderStatus!) { updateOrderStatus(id: $id, status: $s) { id } }', { id, s: status }, shop.admin);
  }
  return id;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    // As root (CI containers) chromium refuses its sandbox; the pages are our own.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Fail the test on any uncaught error in the page. */
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  return errors;
}
