// What the gateway refuses before any subgraph sees a request: bodies over the limit (counted as they
// arrive, chunked or not), compressed bodies and bodies that are not JSON, browser origins not on the
// allow-list, callers over their rate (429 with Retry-After), unregistered documents (when persisted operations are
// enforced) and, in production, introspection; the code every error leaves with; and what it keeps to
// itself in production: "Did you mean …?" hints. Depth and token limits sit in gateway.config.ts;
// client addresses and credentials in callers.ts.
//
// Environment:
//   FLYWHEEL_ENV=production        introspection, GraphiQL and "Did you mean …?" hints off
//   PERSISTED_OPERATIONS           off | allow | only                     (off)
//                                  allow: registered operations by hash, and any other document too
//                                  only:  registered operations by hash, nothing else
//   PERSISTED_OPERATIONS_FILE      the manifest of registered operations  (./persisted/manifest.json)
//   MAX_REQUEST_BYTES              largest request body accepted            (2000000)
//   RATE_LIMIT_PER_MINUTE          calls per caller, root field and minute  (6000)
//   LANDING_LIMIT_PER_MINUTE       referral-landing lookups per client address (60)
//   REDEMPTIONS_PER_MINUTE         per customer: redeemReward, redeemStoreCredit, checkCode, each (60)
//   CODE_CHECKS_PER_MINUTE         per API key or admin: validateRewardCode, checkCode, redeemCode,
//                                  releaseCode, each                        (1200)
//   CORS_ORIGINS                   comma-separated browser origins allowed  (development: any
//                                  http(s)://localhost|127.0.0.1|[::1] origin; production: none)
//   CORS_ALLOW_CREDENTIALS         true: Access-Control-Allow-Credentials   (false)
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { useRateLimiter } from '@envelop/rate-limiter';
import {
  type DocumentNode, getNamedType, getOperationAST, getVariableValues, GraphQLError, type GraphQLSchema,
  isInterfaceType, isNonNullType, isObjectType, Kind, type SelectionSetNode,
} from 'graphql';
import { callerOf, clientAddress } from './callers.ts';
import { rootsOf } from './operations.ts';
import { env, list, positive, production } from './settings.ts';

const maxRequestBytes = positive('MAX_REQUEST_BYTES', 2_000_000); // bulk adjustments of 10 000 rows fit
const perMinute = positive('RATE_LIMIT_PER_MINUTE', 6000);
const landingPerMinute = positive('LANDING_LIMIT_PER_MINUTE', 60);
const redemptionsPerMinute = positive('REDEMPTIONS_PER_MINUTE', 60);
const codeChecksPerMinute = positive('CODE_CHECKS_PER_MINUTE', 1200);

// --- rate limits -----------------------------------------------------------------------------------
// A request over a limit is refused as a whole (GraphQL over HTTP lets such a request answer 429):
// RATE_LIMITED, HTTP 429 and `Retry-After`, the seconds until the caller's window frees a slot,
// also given as extensions.retryAfter. Refused calls count too: whoever keeps guessing keeps the door
// shut, and whoever waits as told gets in.
//
// The limiter's own InMemoryStore keeps every identity it ever saw and copies all of them on each
// call; this one keeps an identity only while it has calls inside its window, and ignores EXEMPT
// (callers a limiter does not apply to). One store per limit (its `max`), so that it can tell when a
// slot frees: the limiter writes a call's timestamps to it and then, in the same synchronous step,
// turns a refusal into an error (transformError), which reads the wait the write left behind.
const EXEMPT = 'exempt';
const WINDOW = '1m';
const WINDOW_MS = 60_000;
type Identity = { contextIdentity: string; fieldIdentity: string };

class WindowStore {
  private calls = new Map<string, { timestamps: number[]; until: number }>();
  private writes = 0;
  private refusedFor = WINDOW_MS;

  constructor(private readonly max: number) {}

  getForIdentity({ contextIdentity, fieldIdentity }: Identity): number[] {
    if (contextIdentity === EXEMPT) return [];
    return this.calls.get(`${contextIdentity}\n${fieldIdentity}`)?.timestamps ?? [];
  }

  setForIdentity({ contextIdentity, fieldIdentity }: Identity, timestamps: number[], windowMs = WINDOW_MS): void {
    if (contextIdentity === EXEMPT) return;
    const key = `${contextIdentity}\n${fieldIdentity}`;
    if (timestamps.length === 0) this.calls.delete(key);
    else this.calls.set(key, { timestamps, until: timestamps[timestamps.length - 1] + windowMs });
    // More calls than the limit in the window (this one counted): the next is let in once all but
    // max - 1 of them are older than the window, i.e. when the one at length - max leaves it.
    const now = Date.now();
    if (timestamps.length > this.max) this.refusedFor = timestamps[timestamps.length - this.max] + windowMs - now;
    if (++this.writes % 1000 === 0) {
      for (const [known, { until }] of this.calls) if (until <= now) this.calls.delete(known);
    }
  }

  // Whole seconds, at least 1 and at most the window.
  retryAfter(): number {
    return Math.min(WINDOW_MS / 1000, Math.max(1, Math.ceil(this.refusedFor / 1000)));
  }
}

const rateLimited = (message: string, retryAfter: number): GraphQLError =>
  new GraphQLError(message, {
    extensions: { code: 'RATE_LIMITED', retryAfter, http: { status: 429, headers: { 'retry-after': String(retryAfter) } } },
  });

// The document as the limiter needs it: every definition (operations and fragments, as the limiter
// walks them all) with its fields, inline fragments and spreads, but no field's selection set. Once per
// parsed document (the server reuses the object for a text it parsed before).
const outlines = new WeakMap<DocumentNode, DocumentNode>();
const outlined = (selectionSet: SelectionSetNode): SelectionSetNode => ({
  ...selectionSet,
  selections: selectionSet.selections.map((selection) =>
    selection.kind === Kind.FIELD ? { ...selection, selectionSet: undefined }
      : selection.kind === Kind.INLINE_FRAGMENT ? { ...selection, selectionSet: outlined(selection.selectionSet) }
        : selection),
});
const rootsOutline = (document: DocumentNode): DocumentNode => {
  let outline = outlines.get(document);
  if (!outline) {
    outline = {
      ...document,
      definitions: document.definitions.map((definition) =>
        definition.kind === Kind.OPERATION_DEFINITION || definition.kind === Kind.FRAGMENT_DEFINITION
          ? { ...definition, selectionSet: outlined(definition.selectionSet) } : definition),
    };
    outlines.set(document, outline);
  }
  return outline;
};

// Whether only root fields can be Query or Mutation fields: no field of the schema returns either
// type. Checked once per schema; should one ever do, the limiter walks the whole document again.
const outlineHolds = new WeakMap<GraphQLSchema, boolean>();
const rootsOnlyIn = (schema: GraphQLSchema): boolean => {
  let holds = outlineHolds.get(schema);
  if (holds === undefined) {
    const roots = new Set([schema.getQueryType(), schema.getMutationType()].filter(Boolean));
    holds = !Object.values(schema.getTypeMap()).some((type) =>
      (isObjectType(type) || isInterfaceType(type)) &&
      Object.values(type.getFields()).some((field) => roots.has(getNamedType(field.type) as any)));
    outlineHolds.set(schema, holds);
  }
  return holds;
};

type Limited = { type: string; field: string; message?: string; identifyFn?: (context: any) => string };

// useRateLimiter walks the document it is given with a TypeInfo on every request, to find the fields
// it limits: ~8 % of the gateway's CPU per cache miss with four limiters (README, "The floor under the
// goals"), and 22 % of its busy time in a storm of refused reads, every refusal having paid for it
// (bench/storm-profile-2026-12-07.json). All our limits are set here on Query and Mutation fields
// (none by a @rateLimit directive in a schema), and no field of the supergraph returns either type, so
// only root fields can match: the limiter walks the document's outline (rootsOutline), where every
// field has lost its selection set. A limiter whose fields the operation does not name at its root
// (fragments followed: operations.ts) has nothing to count, so it is not asked; a limit named by glob
// patterns (the general one's) always is.
const limiter = (identifyFn: (context: any) => string, max: number, fields: Limited[]) => {
  const store = new WindowStore(max);
  const plugin = useRateLimiter({
    identifyFn,
    store: store as any,
    transformError: (message: string) => rateLimited(message, store.retryAfter()),
    configByField: fields.map((config) => ({ ...config, max, window: WINDOW })),
  });
  const named = fields.every(({ type, field }) =>
    /^(Query|Mutation)$/.test(type) && /^@\([A-Za-z_|]+\)$|^[A-Za-z_]+$/.test(field));
  // The limiter hands execution a copy of the document (its visitor returns each field it counted,
  // and graphql-js's visit copies what a visitor returns), a new object per request: what the
  // response cache remembers by document (the __typename and id fields it adds, a TypeInfo walk) was
  // done again on every miss (a probe, 2026-12-07: 600 misses, 600 documents). The copy differs from
  // the original only where it refused a field, and then it ends the operation with the refusal
  // anyway, so the original goes on.
  const counting = plugin.onExecute!;
  const keepingTheDocument = (payload: Parameters<typeof counting>[0]) => {
    const document = payload.args.document;
    if (rootsOnlyIn(payload.args.schema)) payload.args.document = rootsOutline(document);
    try {
      return counting(payload);
    } finally {
      payload.args.document = document;
    }
  };
  if (!named) return { ...plugin, onExecute: keepingTheDocument };
  const limits = fields.map(({ type, field }) => ({
    type: type.toLowerCase(), names: field.replace(/^@\(|\)$/g, '').split('|') }));
  return {
    ...plugin,
    onExecute(payload: Parameters<typeof counting>[0]) {
      const roots = rootsOf(payload.args.document, payload.args.operationName);
      const concerned = limits.some(({ type, names }) => type === roots.type && names.some((n) => roots.fields.has(n)));
      return concerned ? keepingTheDocument(payload) : undefined;
    },
  };
};

// Checkout fields: what a customer spends and tries at checkout, and what a shop's checkout asks
// with its key. The rates are far above a real checkout's (a customer redeeming or trying a code
// more than once a second; one shop validating 20 codes a second) and far below a guessing run's.
const CUSTOMER_CHECKOUT = '@(redeemReward|redeemStoreCredit|checkCode)';
const KEY_CHECKOUT = '@(validateRewardCode|checkCode|redeemCode|releaseCode)';
const CHECKOUT_MESSAGE = 'too many redemptions or code checks; try again later';

export const rateLimiting = () => [
  // Per caller (credential, else client address) and root field.
  limiter((context) => callerOf(context).identity, perMinute, [
    { type: 'Query', field: '!(referralLanding)' },
    { type: 'Mutation', field: '*' },
  ]),
  // Guessing referral codes is the abuse to expect here: a tight limit per client address.
  limiter((context) => callerOf(context).identity, landingPerMinute, [
    {
      type: 'Query',
      field: 'referralLanding',
      identifyFn: (context: any) => `landing:${clientAddress(context?.request, context)}`,
      message: 'too many referral lookups; try again later',
    },
  ]),
  limiter((context) => (callerOf(context).kind === 'customer' ? callerOf(context).identity : EXEMPT), redemptionsPerMinute, [
    { type: 'Mutation', field: CUSTOMER_CHECKOUT, message: CHECKOUT_MESSAGE },
  ]),
  limiter((context) => (['key', 'admin'].includes(callerOf(context).kind) ? callerOf(context).identity : EXEMPT), codeChecksPerMinute, [
    { type: 'Mutation', field: KEY_CHECKOUT, message: CHECKOUT_MESSAGE },
  ]),
];

// --- request bodies --------------------------------------------------------------------------------
// A POST must be uncompressed JSON (GraphQL over HTTP's media types): no form posts a page could
// send across origins without a preflight, no multipart, no text/plain, nothing to inflate. The
// size is checked on Content-Length when there is one, and on the bytes as they arrive in any case
// (a chunked body has no length): the parser's read fails at the first byte over the limit.
const JSON_TYPES = ['application/json', 'application/graphql+json'];
const tooLarge = `request body over ${maxRequestBytes} bytes`;

// Refused before the body is read: Node reads and drops the rest of it, the connection stays usable.
const refusal = (fetchAPI: any, status: number, message: string) =>
  new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] }), {
    status,
    headers: { 'content-type': 'application/json' },
  });

const countingBytes = (request: any, fetchAPI: any) => {
  // With a Content-Length (checked in onRequest) Node's parser hands over that many bytes and no
  // more (it refuses a request with both a length and chunks): nothing to count. Counting anyway
  // cost ~0.03-0.05 ms a request in a CPU profile of cache hits, most of it the stream pipeline's
  // DOMException at its end (Yoga's own 25 MB counter, which Hive gives no option to turn off, still
  // pays it once).
  if (!request.body || request.headers.get('content-length') !== null) return request;
  // As graphql-yoga's own (25 MB) limit does: a native stream needs the native TransformStream.
  const Transform = request.body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  let received = 0;
  const body = request.body.pipeThrough(
    new Transform({
      transform(chunk: Uint8Array, controller: any) {
        received += chunk.byteLength;
        if (received > maxRequestBytes) {
          // The body's stream is abandoned mid-way: the connection cannot carry another request.
          const http = { status: 413, headers: { connection: 'close' } };
          controller.error(new GraphQLError(tooLarge, { extensions: { code: 'BAD_USER_INPUT', http } }));
        } else {
          controller.enqueue(chunk);
        }
      },
    }),
  );
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body,
    duplex: 'half',
  });
};

export const requestBodies = () => ({
  onRequest({ request, endResponse, fetchAPI }: any) {
    if (request.method !== 'POST') return;
    const encoding = (request.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
    const length = request.headers.get('content-length');
    const mediaType = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (encoding !== 'identity') {
      endResponse(refusal(fetchAPI, 415, 'compressed request bodies are not accepted'));
    } else if (length !== null && !/^\d+$/.test(length)) {
      endResponse(refusal(fetchAPI, 400, 'invalid Content-Length'));
    } else if (Number(length ?? 0) > maxRequestBytes) {
      endResponse(refusal(fetchAPI, 413, tooLarge));
    } else if (!JSON_TYPES.includes(mediaType)) {
      endResponse(refusal(fetchAPI, 415, `POST takes ${JSON_TYPES.join(' or ')} only`));
    }
  },
  onRequestParse({ requestParser, setRequestParser, fetchAPI }: any) {
    if (requestParser) setRequestParser((request: any) => requestParser(countingBytes(request, fetchAPI)));
  },
});

// --- CORS ------------------------------------------------------------------------------------------
// Only origins on the list get CORS headers; any other (and `null`, the origin of sandboxed frames
// and local files) gets none, so a browser keeps the answer from the page. Credentials (cookies)
// are never allowed unless configured: storefronts send an Authorization header, not cookies.
const ORIGIN = /^https?:\/\/[^/\s]+$/;
const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;
const allowedOrigins = new Set(
  list('CORS_ORIGINS').map((origin) => {
    if (!ORIGIN.test(origin) || origin === 'null') {
      throw new Error(`CORS_ORIGINS: "${origin}" is not an origin (scheme://host[:port]); * and null are never allowed`);
    }
    return origin.toLowerCase();
  }),
);
const allowCredentials = env('CORS_ALLOW_CREDENTIALS') === 'true';

export const originAllowed = (origin: string): boolean =>
  allowedOrigins.size ? allowedOrigins.has(origin.toLowerCase()) : !production && LOOPBACK_ORIGIN.test(origin);

export const cors = (request: any) => {
  const origin = request.headers.get('origin');
  if (!origin || !originAllowed(origin)) return false;
  return {
    origin,
    credentials: allowCredentials,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'x-shop', 'traceparent', 'tracestate'],
    maxAge: 600,
  };
};

// The answer differs by Origin (allowed or not): shared caches must key on it.
export const varyByOrigin = () => ({
  onResponse({ response }: any) {
    const vary = response.headers.get('vary');
    if (!vary?.toLowerCase().includes('origin')) response.headers.set('vary', vary ? `${vary}, Origin` : 'Origin');
  },
});

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

// Every error leaves with an extensions.code (docs/api.md, "Error codes"). graphql-js gives none to
// a variable the request's variables do not fit ("Variable "$s" got invalid value …"), and Hive
// passes that on as it is: such errors, and any other one without a path (the request itself is at
// fault, nothing ran), get BAD_USER_INPUT, as the subgraphs do (shared/graphql.py).
//
// Production: no "Did you mean …?" in any error either. With introspection off these hints would
// still spell out field, argument, type and enum-value names to whoever probes. Hive's own
// blockFieldSuggestions masks only validation's `Did you mean "x"?`, not enum values nor variable
// coercion ("… Did you mean the enum value "PAID"?"), so every result's errors are cleaned here.
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

// GraphQL over HTTP: an answer without a data entry (a request error: nothing ran) is a 400 under
// application/graphql-response+json, as Yoga already answers parse and validation errors; under
// application/json it stays 200 (`spec: true` tells Yoga so). Without this, the depth limit and the
// persisted-operation errors left with 200 under both. An error that already says its HTTP answer
// keeps it: a rate limit's 429 with Retry-After under any media type (rateLimited above; the
// failed-credentials limit answers the same in callers.ts). Yoga keeps extensions.http out of the body.
const REQUEST_ERROR = { spec: true, status: 400 };

// Hive describes a failed subgraph call (a timeout, a refused connection) in extensions.request:
// the subgraph's URL and the query the gateway sent it. That is the stack's inside (addresses, the
// cache's added fields), of no use to a client and of use to whoever maps it: it stays in the
// gateway. extensions.serviceName and code still say which part failed and how.
const INTERNAL_EXTENSIONS = ['request', 'response'];

// Hive Router's runtime (GATEWAY_RUNTIME=router) answers a subgraph's error on a root field without
// `data`, and throws on variables their types cannot take, so they leave without the 400 that the
// stitching runtime's executor gives them: both put back here, so that docs/api.md's error table holds
// under either runtime (tests/e2e/test_error_table.py runs it against both). Variables are coerced
// before the router executes, as the stitching executor does, and refused with its 400. A root field
// that failed is null, so `data` has every root field, null where it failed; a failed non-null root
// field makes `data` null, as GraphQL says. An answer that has `data` is left as it is.
const VARIABLE_ERROR = { status: 400 };
const variableErrors = (args: any): GraphQLError[] => {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation?.variableDefinitions?.length) return [];
  const { errors } = getVariableValues(args.schema, operation.variableDefinitions, args.variableValues ?? {});
  return (errors ?? []).map((error) =>
    new GraphQLError(error.message, { nodes: error.nodes, originalError: error.originalError,
      extensions: { ...error.extensions, http: VARIABLE_ERROR } }));
};
const withData = (result: any, document: DocumentNode, operationName: string | undefined, schema: GraphQLSchema) => {
  const errors: any[] = result?.errors ?? [];
  if (!errors.length || result.data !== undefined) return undefined;
  if (errors.every((error) => !error?.path)) return undefined; // nothing ran: a request error
  const operation = getOperationAST(document, operationName);
  const root = operation && (operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType());
  if (!operation || !root) return undefined;
  const failed = new Set(errors.map((error) => error?.path?.[0]).filter((key) => key !== undefined));
  const data: Record<string, null> = {};
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) return undefined; // fragments at the root: not rebuilt here
    const key = selection.alias?.value ?? selection.name.value;
    if (failed.has(key) && isNonNullType(root.getFields()[selection.name.value]?.type)) return { ...result, data: null };
    data[key] = null;
  }
  return { ...result, data };
};

const shaped = (result: any, hideSuggestions: boolean): void => {
  const requestError = result && typeof result === 'object' && !('data' in result);
  for (const error of result?.errors ?? []) {
    if (!error?.extensions?.code && !error?.path) {
      error.extensions = { ...error.extensions, code: 'BAD_USER_INPUT' };
    }
    if (requestError && !error?.extensions?.http) {
      error.extensions = { ...error.extensions, http: REQUEST_ERROR };
    }
    if (error?.extensions && INTERNAL_EXTENSIONS.some((key) => key in error.extensions)) {
      error.extensions = Object.fromEntries(
        Object.entries(error.extensions).filter(([key]) => !INTERNAL_EXTENSIONS.includes(key)));
    }
    if (hideSuggestions && typeof error?.message === 'string') {
      error.message = error.message.replace(SUGGESTION, '').trim();
    }
  }
};

export const errorShaping = ({ hideSuggestions, routerRuntime }: { hideSuggestions: boolean; routerRuntime: boolean }) => ({
  onExecute({ args, setResultAndStopExecution }: any) {
    if (!routerRuntime) return undefined;
    const refused = variableErrors(args);
    if (refused.length) {
      setResultAndStopExecution({ errors: refused });
      return undefined;
    }
    return {
      onExecuteDone({ result, setResult }: any) {
        const complete = withData(result, args.document, args.operationName, args.schema);
        if (complete) setResult(complete);
      },
    };
  },
  onResultProcess({ result }: any) {
    for (const one of Array.isArray(result) ? result : [result]) shaped(one, hideSuggestions);
  },
});
