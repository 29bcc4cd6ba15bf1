// What the gateway refuses before any subgraph sees a request: oversize bodies, callers over their
// rate, unregistered documents (when persisted operations are enforced) and, in production,
// introspection; the code every error leaves with; and what it keeps to itself in production:
// "Did you mean …?" hints. Depth and token limits sit in gateway.config.ts.
//
// Environment:
//   FLYWHEEL_ENV=production        introspection, GraphiQL and "Did you mean …?" hints off
//   PERSISTED_OPERATIONS           off | allow | only                     (off)
//                                  allow: registered operations by hash, and any other document too
//                                  only:  registered operations by hash, nothing else
//   PERSISTED_OPERATIONS_FILE      the manifest of registered operations  (./persisted/manifest.json)
//   MAX_REQUEST_BYTES              largest request body accepted            (2000000)
//   RATE_LIMIT_PER_MINUTE          calls per caller, root field and minute  (6000)
//   LANDING_LIMIT_PER_MINUTE       referral-landing lookups per client IP   (60)
//   CODE_CHECK_LIMIT_PER_MINUTE    checkCode / redeemCode per customer      (20)
//   CORS_ORIGINS                   comma-separated storefront origins       (any origin)
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { useRateLimiter } from '@envelop/rate-limiter';
import { GraphQLError } from 'graphql';

const env = (name: string): string | undefined => {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
};
const positive = (name: string, fallback: number): number => {
  const value = Number(env(name) ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};

export const production = env('FLYWHEEL_ENV') === 'production';
const maxRequestBytes = positive('MAX_REQUEST_BYTES', 2_000_000); // bulk adjustments of 10 000 rows fit
const perMinute = positive('RATE_LIMIT_PER_MINUTE', 6000);
const landingPerMinute = positive('LANDING_LIMIT_PER_MINUTE', 60);

type Headers = { get(name: string): string | null };
const headersOf = (context: any): Headers | undefined => context?.request?.headers;

// The client address as the load balancer in front reports it (it must set X-Forwarded-For).
const clientAddress = (context: any): string =>
  headersOf(context)?.get('x-forwarded-for')?.split(',')[0].trim() || 'unknown-client';

// One bucket per credential (API key or bearer token), else per client address.
const caller = (context: any): string => {
  const headers = headersOf(context);
  return headers?.get('x-api-key') || headers?.get('authorization') || clientAddress(context);
};

export const rateLimiting = () =>
  useRateLimiter({
    identifyFn: caller,
    transformError: (message: string) =>
      new GraphQLError(message, { extensions: { code: 'RATE_LIMITED' } }),
    configByField: [
      { type: 'Query', field: '!(referralLanding)', max: perMinute, window: '1m' },
      { type: 'Mutation', field: '*', max: perMinute, window: '1m' },
      // Guessing referral codes is the abuse to expect here: a tight limit per client address.
      {
        type: 'Query',
        field: 'referralLanding',
        max: landingPerMinute,
        window: '1m',
        identifyFn: (context: any) => `landing:${clientAddress(context)}`,
        message: 'too many referral lookups; try again in a minute',
      },
    ],
  });

// Guessing offer codes: checkCode and redeemCode from a customer token are limited per customer (the
// token's shop and subject, however many tokens they hold), from no credentials per client address.
// 20 a minute is far above a real checkout (a check when the code is typed, one per cart change, one
// redemption) and makes guessing hopeless: 80-bit codes, 28 800 guesses a day, a million live codes
// → one hit in about 4 × 10^13 days. A shop's server key (or an admin) answers for all its customers
// at once: only the general limit above applies to it. Over the limit: RATE_LIMITED, HTTP 429 and Retry-After.
const codeChecksPerMinute = positive('CODE_CHECK_LIMIT_PER_MINUTE', 20);
const SERVER = 'server-key';

const customerOf = (authorization: string): string => {
  // The subgraphs verify the token; here its claims only name the bucket. A forged token gets a
  // bucket of its own and is refused by the subgraph anyway.
  try {
    const claims = JSON.parse(Buffer.from(authorization.split('.')[1] ?? '', 'base64url').toString('utf8'));
    if (Array.isArray(claims?.roles) && claims.roles.includes('admin')) return SERVER;
    if (typeof claims?.sub === 'string') return `customer:${claims.shop ?? ''}:${claims.sub}`;
  } catch {
    // not a JWT: the header itself is the bucket
  }
  return `token:${authorization}`;
};

const codeGuesser = (context: any): string => {
  const headers = headersOf(context);
  if (headers?.get('x-api-key')) return SERVER;
  const authorization = headers?.get('authorization');
  return authorization ? customerOf(authorization) : `address:${clientAddress(context)}`;
};

// The calls of the last window per bucket, forgotten once they are older than it; server keys are
// never counted. (The package's InMemoryStore copies its whole state on every call and keeps it.)
class WindowStore {
  private calls = new Map<string, number[]>();
  private writes = 0;
  getForIdentity({ contextIdentity, fieldIdentity }: { contextIdentity: string; fieldIdentity: string }) {
    return contextIdentity === SERVER ? [] : this.calls.get(`${contextIdentity}|${fieldIdentity}`) ?? [];
  }
  setForIdentity(
    { contextIdentity, fieldIdentity }: { contextIdentity: string; fieldIdentity: string },
    timestamps: number[],
    windowMs: number,
  ) {
    if (contextIdentity === SERVER) return;
    this.calls.set(`${contextIdentity}|${fieldIdentity}`, timestamps);
    if (++this.writes % 10_000 === 0) {
      const oldest = Date.now() - windowMs;
      for (const [key, times] of this.calls) if (!times.some((t) => t > oldest)) this.calls.delete(key);
    }
  }
}

export const codeGuessLimiting = () =>
  useRateLimiter({
    identifyFn: codeGuesser,
    store: new WindowStore() as any,
    transformError: (message: string) =>
      new GraphQLError(message, {
        extensions: {
          code: 'RATE_LIMITED',
          retryAfter: 60,
          http: { status: 429, headers: { 'Retry-After': '60' } },
        },
      }),
    configByField: ['checkCode', 'redeemCode'].map((field) => ({
      type: 'Mutation',
      field,
      max: codeChecksPerMinute,
      window: '1m',
      message: 'too many code checks; try again in a minute',
    })),
  });

export const requestSizeLimit = () => ({
  onRequest({ request, endResponse, fetchAPI }: any) {
    const length = Number(request.headers.get('content-length') ?? 0);
    if (length > maxRequestBytes) {
      endResponse(
        new fetchAPI.Response(
          JSON.stringify({
            errors: [{ message: `request body over ${maxRequestBytes} bytes`, extensions: { code: 'BAD_USER_INPUT' } }],
          }),
          { status: 413, headers: { 'content-type': 'application/json' } },
        ),
      );
    }
  },
});

export const cors = (() => {
  const origins = env('CORS_ORIGINS')?.split(',').map((o) => o.trim()).filter(Boolean);
  return {
    origin: origins && origins.length ? origins : '*',
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'x-shop', 'traceparent', 'tracestate'],
    maxAge: 600,
  };
})();

// Registered operations (gateway/persisted/*.graphql, manifest built by persist.mjs): a client sends
// the operation's SHA-256 as extensions.persistedQuery.sha256Hash (Apollo's form) or documentId
// (Hive's form) instead of the document. With `only`, a document the gateway has not seen before
// never reaches the planner: nothing to probe, nothing expensive to craft.
const persistedMode = env('PERSISTED_OPERATIONS') ?? 'off';
if (!['off', 'allow', 'only'].includes(persistedMode)) {
  throw new Error(`PERSISTED_OPERATIONS must be off, allow or only, got "${persistedMode}"`);
}

const registeredOperations = (file: string | URL): Map<string, string> => {
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as {
    format: string;
    operations: { id: string; body: string }[];
  };
  if (manifest.format !== 'apollo-persisted-query-manifest' || !Array.isArray(manifest.operations)) {
    throw new Error(`${file} is not a persisted-query manifest; run: (cd gateway && node persist.mjs)`);
  }
  return new Map(manifest.operations.map((op) => [op.id, op.body]));
};

export const persistedOperations = () => {
  if (persistedMode === 'off') return undefined;
  const configured = env('PERSISTED_OPERATIONS_FILE');
  const file = configured ? resolve(configured) : new URL('./persisted/manifest.json', import.meta.url);
  const operations = registeredOperations(file);
  return {
    getPersistedOperation: (id: string) => operations.get(id) ?? null,
    allowArbitraryDocuments: persistedMode === 'allow',
    customErrors: {
      persistedQueryOnly: {
        message: 'this endpoint runs registered operations only: send the hash of one instead of a document',
        extensions: { code: 'PERSISTED_QUERY_ID_REQUIRED' },
      },
      keyNotFound: {
        message: 'no document and no registered operation hash in the request',
        extensions: { code: 'PERSISTED_QUERY_ID_REQUIRED' },
      },
      notFound: {
        message: 'no registered operation has this hash',
        extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' },
      },
    },
  };
};

// Every error leaves with an extensions.code (CONTRACT.md). graphql-js gives none to a variable
// the request's variables do not fit ("Variable "$s" got invalid value …"), and Hive passes that on
// as it is: such errors, and any other one without a path (the request itself is at fault, nothing
// ran), get BAD_USER_INPUT, as the subgraphs do (shared/graphql.py).
//
// Production: no "Did you mean …?" in any error either. With introspection off these hints would
// still spell out field, argument, type and enum-value names to whoever probes. Hive's own
// blockFieldSuggestions masks only validation's `Did you mean "x"?`, not enum values nor variable
// coercion ("… Did you mean the enum value "PAID"?"), so every result's errors are cleaned here.
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

const shaped = (result: any, hideSuggestions: boolean): void => {
  for (const error of result?.errors ?? []) {
    if (!error?.extensions?.code && !error?.path) {
      error.extensions = { ...error.extensions, code: 'BAD_USER_INPUT' };
    }
    if (hideSuggestions && typeof error?.message === 'string') {
      error.message = error.message.replace(SUGGESTION, '').trim();
    }
  }
};

export const errorShaping = ({ hideSuggestions }: { hideSuggestions: boolean }) => ({
  onResultProcess({ result }: any) {
    for (const one of Array.isArray(result) ? result : [result]) shaped(one, hideSuggestions);
  },
});
