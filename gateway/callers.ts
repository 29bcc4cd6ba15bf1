// Who is calling, decided once per request before anything is parsed:
//
// - the client address: the socket's peer, unless that peer is one of TRUSTED_PROXIES; then the
//   rightmost X-Forwarded-For entry that is not a trusted proxy (proxy-addr, as Express does). An
//   address a client writes into X-Forwarded-For itself is never believed: a proxy appends the peer
//   it saw, so what stands left of that is the client's own word.
// - the credential, checked here with the rules of shared/auth.py (API keys of ADMIN_API_KEY,
//   INGEST_API_KEY and API_KEYS; HS256 JWTs signed with JWT_SECRET with sub and exp, 30 s leeway).
//   Every subgraph checks it again; here a wrong one is refused before any subgraph works, and only a
//   genuine credential gets a rate-limit bucket of its own (an unknown key gets none).
// - an expired but genuine token (a storefront's stale session): not refused. The request goes on as
//   a public caller's, public fields answer, whatever needs the token fails in the subgraphs with
//   UNAUTHENTICATED "token expired", and the answer carries a warning in extensions.warnings
//   (code TOKEN_EXPIRED), so a client that asked only public fields still learns it (docs/auth.md).
// - failed credentials (unknown key, forged or garbled token) counted per client address: past
//   AUTH_FAILURES_PER_MINUTE the address gets RATE_LIMITED for any credential until its minute is
//   over, a genuine one included (else the answer would tell a guess that hit). An expired but
//   genuine token is not a guess: not counted.
//
// Environment:
//   TRUSTED_PROXIES          comma-separated addresses or CIDRs of the proxies in front (the ingress),
//                            or proxy-addr's names loopback, linklocal, uniquelocal
//                            (development: loopback; production: none, i.e. the socket's peer)
//   AUTH_FAILURES_PER_MINUTE failed credentials per client address and minute (30)
import { createHash, createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import proxyaddr from 'proxy-addr';
import { env, list, positive, production } from './settings.ts';

const trusted = proxyaddr.compile(list('TRUSTED_PROXIES', production ? '' : 'loopback'));
const failuresPerMinute = positive('AUTH_FAILURES_PER_MINUTE', 30);
const WINDOW_MS = 60_000;

// Requests and the GraphQL contexts built for them both lead back to the fetch Request.
type Headers = { get(name: string): string | null };
type Request = { headers: Headers };
const addresses = new WeakMap<object, string>();
const identities = new WeakMap<object, Caller>();

export const clientAddress = (request: Request, serverContext: any): string => {
  let address = addresses.get(request);
  if (address === undefined) {
    const socket = serverContext?.req?.socket ?? serverContext?.socket;
    const forwardedFor = request.headers.get('x-forwarded-for') ?? undefined;
    const found = socket ? proxyaddr({ socket, headers: { 'x-forwarded-for': forwardedFor } } as any, trusted) : undefined;
    address = (found ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    addresses.set(request, address);
  }
  return address;
};

// --- credentials -----------------------------------------------------------------------------------
// shop and customer as the subgraphs will see them (shared/auth.py): a token's shop claim, else
// DEFAULT_SHOP; for public callers X-Shop, else DEFAULT_SHOP. The response cache keys on them.
// tokenExpired: a public caller only because its genuine token expired (shop: the token's).
export type Caller = {
  kind: 'public' | 'key' | 'customer' | 'admin';
  identity: string;
  shop?: string;
  customer?: string;
  tokenExpired?: boolean;
};
export const DEFAULT_SHOP = env('DEFAULT_SHOP') ?? 'default';

const digest = (key: string): string => createHash('sha256').update(key).digest('hex');
// Keys are compared by their SHA-256: the lookup time says nothing about how close a guess came.
const apiKeys = new Set(
  [
    env('ADMIN_API_KEY') ?? 'dev-admin-key',
    env('INGEST_API_KEY') ?? 'dev-ingest-key',
    ...list('API_KEYS').map((entry) => entry.split(':')[0]),
  ].map(digest),
);
// A KeyObject made once: given the secret as a string, jsonwebtoken tries it as a public key first on
// every call, and the exception it catches was a quarter of the gateway's CPU on a cache hit.
const jwtSecret = createSecretKey(Buffer.from(env('JWT_SECRET') ?? 'dev-only-change-me-0123456789abcdef0123456789abcdef'));

// Tokens whose signature and claims were checked, until they expire: a storefront sends the same token
// with every page view, and checking its HMAC again (jsonwebtoken: base64, JSON, HMAC) was ~0.06 ms of
// the ~1 ms a cache hit costs the gateway. The same bytes give the same answer until `exp` (with the
// tolerance), which is checked on every use; then the token goes through jsonwebtoken again (and is
// answered as expired). A token that failed is never kept. Bounded: full, it starts again empty.
const CLOCK_TOLERANCE_S = 30;
const MAX_VERIFIED = 50_000;
const verified = new Map<string, { caller: Caller; until: number }>();

class Refused extends Error {
  constructor(message: string, readonly guess: boolean) {
    super(message);
  }
}

const identify = (headers: Headers, address: string): Caller => {
  const key = headers.get('x-api-key');
  if (key) {
    const hashed = digest(key);
    if (!apiKeys.has(hashed)) throw new Refused('unknown API key', true);
    return { kind: 'key', identity: `key:${hashed.slice(0, 24)}` };
  }
  const authorization = headers.get('authorization');
  if (authorization) {
    const space = authorization.indexOf(' ');
    const scheme = space < 0 ? authorization : authorization.slice(0, space);
    const token = space < 0 ? '' : authorization.slice(space + 1).trim();
    if (scheme.toLowerCase() !== 'bearer' || !token) throw new Refused("Authorization must be 'Bearer <token>'", true);
    const known = verified.get(token);
    if (known && Date.now() / 1000 < known.until) return known.caller;
    let claims: any;
    try {
      claims = jwt.verify(token, jwtSecret, { algorithms: ['HS256'], clockTolerance: CLOCK_TOLERANCE_S });
    } catch (error) {
      // jsonwebtoken checks the signature before the expiry: an expired token is the shop's own.
      if (error instanceof jwt.TokenExpiredError) {
        const expired: any = jwt.decode(token);
        const shop = typeof expired?.shop === 'string' && expired.shop ? expired.shop : DEFAULT_SHOP;
        return { kind: 'public', identity: `address:${address}`, shop, tokenExpired: true };
      }
      throw new Refused('invalid token', true);
    }
    // The rest of shared/auth.py's rules for a genuine signature: sub and exp required, no aud, no iat
    // in the future.
    for (const claim of ['sub', 'exp']) {
      if (claims?.[claim] === undefined) throw new Refused(`invalid token: no '${claim}' claim`, false);
    }
    if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number' || claims.aud !== undefined
      || (claims.iat !== undefined && !(typeof claims.iat === 'number' && claims.iat <= Date.now() / 1000 + 30))) {
      throw new Refused('invalid token', false);
    }
    const admin = Array.isArray(claims.roles) && claims.roles.includes('admin');
    const shop = typeof claims.shop === 'string' && claims.shop ? claims.shop : DEFAULT_SHOP;
    const caller: Caller = Object.freeze({
      kind: admin ? 'admin' : 'customer',
      identity: `${admin ? 'admin' : 'customer'}:${claims.shop ?? ''}:${claims.sub}`,
      shop,
      ...(admin ? {} : { customer: claims.sub }),
    });
    if (verified.size >= MAX_VERIFIED) verified.clear();
    verified.set(token, { caller, until: claims.exp + CLOCK_TOLERANCE_S });
    return caller;
  }
  return { kind: 'public', identity: `address:${address}` };
};

// The rate limiters' view of a request (gateway/protections.ts): the caller checked in onRequest.
export const callerOf = (context: any): Caller =>
  identities.get(context?.request) ?? { kind: 'public', identity: `address:${clientAddress(context?.request, context)}` };

// The response cache's view (cache.ts): the checked credential's caller, or a public one whose shop is
// X-Shop's (an invalid shop id is the subgraph's BAD_USER_INPUT, an error, so never cached).
export const callerOfRequest = (request: Request): Caller =>
  identities.get(request) ?? { kind: 'public', identity: 'public', shop: request.headers.get('x-shop') || DEFAULT_SHOP };

// --- failed credentials per client address ---------------------------------------------------------
// One counter per address and minute; the map is swept when it grows, so it holds at most the
// addresses that failed within the last minute (bounded by MAX_ADDRESSES in any case).
const MAX_ADDRESSES = 100_000;
const failures = new Map<string, { start: number; count: number }>();

const failuresOf = (address: string, now: number) => {
  const entry = failures.get(address);
  return entry && now - entry.start < WINDOW_MS ? entry : undefined;
};

const countFailure = (address: string, now: number): void => {
  const entry = failuresOf(address, now);
  if (entry) {
    entry.count += 1;
    return;
  }
  if (failures.size >= MAX_ADDRESSES) {
    for (const [known, { start }] of failures) if (now - start >= WINDOW_MS) failures.delete(known);
    if (failures.size >= MAX_ADDRESSES) failures.delete(failures.keys().next().value as string);
  }
  failures.set(address, { start: now, count: 1 });
};

const refusal = (fetchAPI: any, status: number, message: string, extensions: { code: string; retryAfter?: number },
  headers: Record<string, string> = {}) =>
  new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions }] }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

const EXPIRED_WARNING = {
  code: 'TOKEN_EXPIRED',
  message: 'the token has expired: public fields were answered, fields that need it failed with UNAUTHENTICATED; send a fresh token',
};

export const authentication = () => ({
  onResultProcess({ request, result }: any) {
    if (!identities.get(request)?.tokenExpired) return;
    for (const one of Array.isArray(result) ? result : [result]) {
      if (one && typeof one === 'object') {
        one.extensions = { ...one.extensions, warnings: [...(one.extensions?.warnings ?? []), EXPIRED_WARNING] };
      }
    }
  },
  onRequest({ request, serverContext, endResponse, fetchAPI }: any) {
    if (!request.headers.get('x-api-key') && !request.headers.get('authorization')) return;
    const address = clientAddress(request, serverContext);
    const now = Date.now();
    const failed = failuresOf(address, now);
    if (failed && failed.count >= failuresPerMinute) {
      // As the gateway's other limits answer (protections.ts): 429, Retry-After and extensions.retryAfter.
      const wait = Math.max(1, Math.ceil((failed.start + WINDOW_MS - now) / 1000));
      endResponse(refusal(fetchAPI, 429, 'too many failed credentials from this address; try again later',
        { code: 'RATE_LIMITED', retryAfter: wait }, { 'retry-after': String(wait) }));
      return;
    }
    try {
      identities.set(request, identify(request.headers, address));
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      if (error.guess) countFailure(address, now);
      endResponse(refusal(fetchAPI, 401, error.message, { code: 'UNAUTHENTICATED' }, { 'www-authenticate': 'Bearer' }));
    }
  },
});
