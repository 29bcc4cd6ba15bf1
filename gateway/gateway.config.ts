// Hive Gateway configuration for Flywheel. Loaded by `hive-gateway supergraph` (see start.sh).
//
// Environment (all optional; the defaults run locally):
//   GATEWAY_HOST / GATEWAY_PORT      listen address                  (127.0.0.1 / 4000)
//   SUPERGRAPH_FILE                  composed supergraph              (./supergraph.graphql)
//   <NAME>_URL                       full URL of subgraph <name>, e.g. CUSTOMERS_URL
//   <NAME>_PORT                      else http://127.0.0.1:<port>/graphql, e.g. CUSTOMERS_PORT
//                                    (neither set: the URL composed into the supergraph)
//   OTEL_EXPORTER_OTLP_ENDPOINT      set: export spans over OTLP/HTTP as service "gateway"
//   GATEWAY_SECRET                   sent to every subgraph in x-flywheel-gateway; in production
//                                    the subgraphs answer nothing else (settings.ts)
//   GATEWAY_RUNTIME                  router: Hive Router's query planner and executor; stitching:
//                                    Hive Gateway's own runtime (below)          (router)
//   protections.ts, callers.ts, cache.ts, invalidation.ts and overload.ts list theirs (limits, CORS,
//   trusted proxies, the response cache and its events, load shedding)
import { randomBytes } from 'node:crypto';
import { defineConfig } from '@graphql-hive/gateway';
import { openTelemetrySetup } from '@graphql-hive/gateway/opentelemetry/setup';
import useMeshResponseCache from '@graphql-mesh/plugin-response-cache';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { cacheFreshness, responseCaching } from './cache.ts';
import { authentication, clientAddress } from './callers.ts';
import { invalidationConsumer, startInvalidation } from './invalidation.ts';
import { subgraphOperationNames } from './operations.ts';
import { loadShedding, upstreamTimeout } from './overload.ts';
import {
  cors,
  errorShaping,
  persistedOperations,
  rateLimiting,
  requestBodies,
  varyByOrigin,
} from './protections.ts';
import {
  CLIENT_HEADER,
  CREDENTIAL_HEADERS,
  env,
  GATEWAY_HEADER,
  gatewaySecret,
  production,
  routerRuntime,
  runtimeConfig,
  subgraphLocations,
} from './settings.ts';

const port = Number(env('GATEWAY_PORT') ?? 4000);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  throw new Error(`GATEWAY_PORT must be a TCP port, got "${process.env.GATEWAY_PORT}"`);
}
const host = env('GATEWAY_HOST') ?? '127.0.0.1';

const transportEntries = subgraphLocations();

// GATEWAY_RUNTIME=router (the default) plans and executes with Hive Router's runtime (its Rust query
// planner and an executor of the plan) instead of Hive Gateway's own stitching runtime, which rewrites
// the document with graphql-tools for every subgraph call: a cold rewards panel allocates ~1.7 MB in
// the gateway that way, and collecting it is ~20 % of the miss's gateway CPU; with the router's
// ~0.8 MB and 26-28 % less gateway CPU a miss (bench/router-runtime-2026-12-07.json). The plugins, the
// response cache and the subgraph hooks work under both (tests/e2e/test_gateway_runtime.py), and so
// does docs/api.md's error table (tests/e2e/test_error_table.py runs it against both), with three
// things put back that the router's answers left out: `data` beside a root field's error and the 400
// of bad variables (errorShaping, protections.ts), a timed-out call's path (upstreamTimeout answers
// it as the call's result, overload.ts), and the client's operation name on the subgraph calls
// (subgraphOperationNames, operations.ts). GATEWAY_RUNTIME=stitching is there to compare and to fall
// back on; switching is a restart.
console.log(`[gateway] runtime: ${routerRuntime ? "router (Hive Router's query planner)" : 'stitching'}`);

// Tracing. With an OTLP endpoint the gateway makes its own spans (HTTP request, GraphQL
// phases, one per subgraph call) and injects the W3C traceparent of its subgraph-call span
// into each subgraph request, so subgraph spans become children of the gateway's span.
// Without one, no spans are made and the client's traceparent/tracestate are forwarded
// unchanged, so subgraph spans still join the client's trace.
const otlpEndpoint = env('OTEL_EXPORTER_OTLP_ENDPOINT');
if (otlpEndpoint) {
  openTelemetrySetup({
    contextManager: new AsyncLocalStorageContextManager(),
    resource: { serviceName: 'gateway', serviceVersion: '0.1.0' },
    traces: {
      // Reads OTEL_EXPORTER_OTLP_ENDPOINT (adds /v1/traces) or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.
      exporter: new OTLPTraceExporter(),
    },
  });
}

// Without gateway spans, a client request that brings no traceparent still makes one trace: the
// gateway mints a W3C traceparent per client request and sends the same one to every subgraph it
// calls for that request (otherwise each subgraph would start a trace of its own).
// Its 24 random bytes (trace id, span id) come from a pool drawn 6 KB at a time: two randomBytes calls
// per request were ~0.05 ms of a cache miss's gateway CPU (profile, 2026-12-07).
const mintedTraceparents = new WeakMap<object, string>();
const IDS_PER_DRAW = 256;
let randomPool = Buffer.alloc(0);
let drawn = 0;
const randomHex = (bytes: number): string => {
  if (drawn + bytes > randomPool.length) {
    randomPool = randomBytes(24 * IDS_PER_DRAW);
    drawn = 0;
  }
  drawn += bytes;
  return randomPool.toString('hex', drawn - bytes, drawn);
};
const traceparentFor = (request: object): string => {
  let value = mintedTraceparents.get(request);
  if (!value) {
    value = `00-${randomHex(16)}-${randomHex(8)}-01`;
    mintedTraceparents.set(request, value);
  }
  return value;
};

// The client's X-Forwarded-For is not passed on: subgraphs get the client address the gateway
// decided on (callers.ts, through trusted proxies only) in x-flywheel-client, and the gateway's
// secret beside it, which is what lets them believe it.
const TRACE_HEADERS = ['traceparent', 'tracestate'];
const forwardedHeaders = otlpEndpoint ? CREDENTIAL_HEADERS : [...CREDENTIAL_HEADERS, ...TRACE_HEADERS];

const persistedDocuments = persistedOperations();
const caching = responseCaching();
startInvalidation();

export const gatewayConfig = defineConfig({
  supergraph: env('SUPERGRAPH_FILE') ?? './supergraph.graphql',
  host,
  port,
  transportEntries,
  ...runtimeConfig,

  propagateHeaders: {
    fromClientToSubgraphs({ request, context }) {
      const headers: Record<string, string> = {
        [GATEWAY_HEADER]: gatewaySecret,
        [CLIENT_HEADER]: clientAddress(request, context),
      };
      for (const name of forwardedHeaders) {
        const value = request.headers.get(name);
        if (value) headers[name] = value;
      }
      if (!otlpEndpoint && !headers.traceparent) {
        headers.traceparent = traceparentFor(request);
      }
      return headers;
    },
  },

  ...(otlpEndpoint ? { openTelemetry: { traces: true } } : {}),

  // GraphiQL (Hive Laboratory) for browsers on GET /graphql; it, introspection and "Did you
  // mean …?" hints are off with FLYWHEEL_ENV=production.
  graphqlEndpoint: '/graphql',
  graphiql: !production,
  ...(production ? { disableIntrospection: true } : {}),
  cors,
  // Order matters: an overloaded gateway refuses first (loadShedding, which also gates what
  // executes); bodies and credentials are refused before anything is parsed or limited. The
  // response cache answers hits before execution (at onParams). It is listed here, after
  // loadShedding, rather than given to Hive as `responseCaching` (which puts it before every plugin
  // of ours): its execute wrapper must be the outer one, around the slot's, or every refused read
  // left it uncalled and it logged "The cached execute function was not called" once per refusal.
  // Public reads per shop, customer reads per customer, invalidated by events (cache.ts).
  plugins: (context) => [
    loadShedding(),
    upstreamTimeout(), // overload.ts: a subgraph call waits 5 s in a storefront's read, 30 s in the rest
    ...(caching ? [useMeshResponseCache({ ...context, ...caching } as any)] : []),
    requestBodies(),
    authentication(),
    varyByOrigin(),
    cacheFreshness(),
    ...rateLimiting(),
    errorShaping({ hideSuggestions: production, routerRuntime }),
    subgraphOperationNames(), // operations.ts: the client's operation name on every subgraph call
    invalidationConsumer(), // invalidation.ts: stopped when the gateway is disposed (SIGTERM)
  ],
  // PERSISTED_OPERATIONS=allow|only: the registered operations of gateway/persisted/ by hash.
  ...(persistedDocuments ? { persistedDocuments } : {}),
  landingPage: false,
  healthCheckEndpoint: '/healthcheck',
  readinessCheckEndpoint: '/readiness',

  // Errors a subgraph returns (message, path, extensions.code) reach the client as they are,
  // plus extensions.serviceName; a subgraph error without a code gets DOWNSTREAM_SERVICE_ERROR.
  // Anything unexpected inside the gateway becomes "Unexpected error." (INTERNAL_SERVER_ERROR);
  // isDev: false keeps stacks out of responses even when NODE_ENV=development.
  maskedErrors: { isDev: false },

  maxDepth: 15,
  maxTokens: 2000,
  // No subscriptions in the supergraph: nothing may come in over WebSockets, where neither the body
  // limit nor the media-type check would see it. A body still arriving after 60 s is dropped.
  disableWebsockets: true,
  requestTimeout: 60_000,
  // Request bodies are limited by requestBodies() (protections.ts: 2 MB, Content-Length checked,
  // chunked bodies counted). Yoga's own 25 MB counter piped every body through a second stream
  // pipeline that ends in a DOMException: ~0.15 ms of gateway CPU on every request, hits included
  // (12 alternating pairs, README "Benchmarks"). Hive passes no option for it to Yoga; the patch in
  // patches/ (applied by npm's postinstall) adds this one.
  maxRequestBodySize: false,
});
