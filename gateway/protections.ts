// What the gateway refuses before any subgraph sees a request: oversize bodies, callers over their
// rate, and (in production) introspection. Depth and token limits sit in gateway.config.ts.
//
// Environment:
//   FLYWHEEL_ENV=production        introspection and GraphiQL off
//   MAX_REQUEST_BYTES              largest request body accepted            (2000000)
//   RATE_LIMIT_PER_MINUTE          calls per caller, root field and minute  (6000)
//   LANDING_LIMIT_PER_MINUTE       referral-landing lookups per client IP   (60)
//   CORS_ORIGINS                   comma-separated storefront origins       (any origin)
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
