// The GraphQL-over-HTTP audit of graphql-http (auditServer) against the gateway: prints one JSON line
// per audit ({id, name, status, reason}). tests/e2e/test_graphql_http_audit.py runs it and judges.
// Usage: node graphql_http_audit.mjs <gateway url> <x-shop>
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../console/package.json'));
const { auditServer } = require('graphql-http');

const [url, shop] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('x-shop', shop);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
for (const r of results) {
  let reason = null;
  if (r.status !== 'ok') {
    reason = r.reason;
    if (r.response) {
      const body = await r.response.text().catch(() => '');
      reason = `${r.reason} (HTTP ${r.response.status}: ${body.slice(0, 200)})`;
    }
  }
  console.log(JSON.stringify({ id: r.id, name: r.name, status: r.status, reason }));
}
