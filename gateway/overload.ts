// Load shedding: past what the stack can answer in time, refuse at once (HTTP 503, Retry-After,
// UNAVAILABLE) instead of queueing until every answer is late.
//
// Every operation the gateway executes (a cache hit is answered before, and is not counted) takes a
// slot of its class: reads (queries) or writes (mutations: checkout, orders), so a flood of panel
// reads never starves a checkout. No slot free: the operation waits in a short queue; the queue full,
// or no slot within the wait, it is refused. Sized from measuring this machine (docs/operations.md,
// "Overload"): a cache-miss panel costs ~30 ms of CPU across the stack (gateway ~10.7, points ~7.6,
// referrals ~3.5, customers and reviews ~2.6 each, Postgres ~1.9), so 2 cores answer 55–70 a second.
// Every slot past the few that keep both cores busy only adds its share of waiting to each answer
// (Little's law: 8 in flight at 60/s is ~130 ms each before any queue): with 8 slots and 8 waiting up
// to 100 ms, an accepted read took 400–1600 ms at p99 at twice the capacity; with 4 slots and 4 waiting
// up to 5 ms, 116–204 ms in 14 runs of 19 (275–498 ms in the other 5, where the event loop stalled
// once), at the same throughput (2026-12-07, bench/overload-2026-12-07.json).
//
// And before anything is read: when the gateway's own event loop lags (it is short of CPU, cache
// hits included, which take no slot), new requests are refused at once until it catches up.
//
// A subgraph refuses too when its own limit is reached (shared/runtime.py, SUBGRAPH_MAX_CONCURRENT):
// its UNAVAILABLE error makes the gateway's answer a 503 with Retry-After as well.
//
// Environment:
//   GATEWAY_MAX_READS          queries executing at once                          (4)
//   GATEWAY_MAX_WRITES         mutations executing at once                        (16)
//   GATEWAY_QUEUED_READS       queries waiting for a slot                         (4)
//   GATEWAY_QUEUED_WRITES      mutations waiting for a slot                       (256)
//   GATEWAY_QUEUE_WAIT_MS      longest wait of a query for a slot                 (5)
//   GATEWAY_WRITE_WAIT_MS      longest wait of a mutation for a slot              (2000)
//   GATEWAY_MAX_LAG_MS         event-loop lag (smoothed) past which requests are refused; 0: never (250)
//   OVERLOAD_RETRY_AFTER       seconds in Retry-After                             (1)
//   GATEWAY_READ_TIMEOUT_MS    a storefront's query (a customer's or anonymous) waits this long for
//                              each subgraph call                                   (5000)
//   GATEWAY_UPSTREAM_TIMEOUT_MS  any other subgraph call: admins, API keys, mutations (30000)
import { performance } from 'node:perf_hooks';
import { GraphQLError } from 'graphql';
import { callerOfRequest } from './callers.ts';
import { rootsOf } from './operations.ts';
import { env, positive } from './settings.ts';

const retryAfter = String(positive('OVERLOAD_RETRY_AFTER', 1));
const maxLagMs = Number(env('GATEWAY_MAX_LAG_MS') ?? 250);
if (!Number.isFinite(maxLagMs) || maxLagMs < 0) throw new Error('GATEWAY_MAX_LAG_MS must be 0 or more');

type Release = () => void;

export class Gate {
  private active = 0;
  private waiting: { admit: (release: Release | undefined) => void; timer: NodeJS.Timeout }[] = [];
  readonly counts = { admitted: 0, queued: 0, refused: 0 };

  constructor(readonly name: string, readonly limit: number, readonly queue: number, readonly waitMs: number) {}

  /** No slot free and no room to wait: counted as refused. */
  refusesAtOnce(): boolean {
    if (this.active < this.limit || this.waiting.length < this.queue) return false;
    this.counts.refused += 1;
    return true;
  }

  /** A release function, at once or after a wait; undefined when refused. */
  acquire(): Release | undefined | Promise<Release | undefined> {
    if (this.active < this.limit) {
      this.active += 1;
      this.counts.admitted += 1;
      return this.releaser();
    }
    if (this.waiting.length >= this.queue) {
      this.counts.refused += 1;
      return undefined;
    }
    this.counts.queued += 1;
    return new Promise((admit) => {
      const waiter = {
        admit,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          this.counts.refused += 1;
          admit(undefined);
        }, this.waitMs),
      };
      this.waiting.push(waiter);
    });
  }

  private releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        this.counts.admitted += 1;
        next.admit(this.releaser()); // the slot passes on: active stays
      } else {
        this.active -= 1;
      }
    };
  }
}

export const gates = {
  read: new Gate('read', positive('GATEWAY_MAX_READS', 4), positive('GATEWAY_QUEUED_READS', 4),
    positive('GATEWAY_QUEUE_WAIT_MS', 5)),
  write: new Gate('write', positive('GATEWAY_MAX_WRITES', 16), positive('GATEWAY_QUEUED_WRITES', 256),
    positive('GATEWAY_WRITE_WAIT_MS', 2000)),
};

// The event loop's lag: a timer due every 20 ms, how late it fires, smoothed over ~0.5 s (one late
// tick, a GC pause, is not an overload).
const TICK_MS = 20;
let lagMs = 0;
let expected = performance.now() + TICK_MS;
if (maxLagMs > 0) {
  setInterval(() => {
    const now = performance.now();
    lagMs = 0.96 * lagMs + 0.04 * Math.max(0, now - expected);
    expected = now + TICK_MS;
  }, TICK_MS).unref();
}
export const eventLoopLag = (): number => lagMs;

// How long a subgraph call may take: a storefront's read (a customer's or anonymous query) 5 s, anything
// else (admins' reports, keys' calls, mutations) the subgraphs' own statement timeout, 30 s. A
// storefront read that takes seconds has failed anyway: the page gave up.
//
// A timer per call, not Hive Gateway's `upstreamTimeout`: that one hangs an abort listener on the
// subgraph's long-lived signal for every call (@graphql-hive/signal's abortSignalAny, from
// @graphql-tools/executor-http) and takes it off only when the call's timeout fires, and Node's
// addEventListener walks the listeners already there, so each call cost more the faster the traffic
// and the longer the timeout (2026-12-07: at 30 s and 40 cold panels a second a probe counted 2,400
// listeners on points' signal, 8.5 % of a core adding them; at 5 s a CPU profile still put ~0.3 ms of
// a cold panel there; 30 s against 5 s, A/B: bench/upstream-timeout-2026-12-07.json; this timer
// against Hive's: README, bench/gateway-miss-2026-12-07.json). What the timer gives up: the late
// call is not aborted; its answer, when it comes, is dropped (the subgraph's own statement timeout
// ends its work).
const readTimeoutMs = positive('GATEWAY_READ_TIMEOUT_MS', 5000);
const upstreamTimeoutMs = positive('GATEWAY_UPSTREAM_TIMEOUT_MS', 30_000);

const timeoutOf = (executionRequest: any): number => {
  const request = executionRequest?.context?.request;
  if (executionRequest?.operationType !== 'query' || !request) return upstreamTimeoutMs;
  const kind = callerOfRequest(request).kind;
  return kind === 'customer' || kind === 'public' ? readTimeoutMs : upstreamTimeoutMs;
};

// Hive's own answer to a late call, kept: the message of an AbortSignal.timeout, 504, GATEWAY_TIMEOUT,
// the subgraph's name. Given as the call's result, not thrown: each runtime then places it where the
// call's fields are (path ["tiers"]), and a root field that timed out is null in `data`. Hive Router's
// runtime (GATEWAY_RUNTIME=router) passes a thrown GraphQLError on without a path, and the answer had
// no `data`, where docs/api.md's GATEWAY_TIMEOUT row promises partial data.
const timedOut = (serviceName: string) => ({
  errors: [new GraphQLError('The operation was aborted due to timeout', {
    extensions: { code: 'GATEWAY_TIMEOUT', serviceName, http: { status: 504 } },
  })],
});

export const upstreamTimeout = () => ({
  onSubgraphExecute({ subgraphName, executionRequest, executor, setExecutor }: any) {
    const ms = timeoutOf(executionRequest);
    setExecutor((request: any) => {
      const answer = executor(request);
      if (typeof answer?.then !== 'function') return answer;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<ReturnType<typeof timedOut>>((resolve) => {
        timer = setTimeout(() => resolve(timedOut(subgraphName)), ms);
      });
      return Promise.race([answer, late]).finally(() => clearTimeout(timer));
    });
  },
});

const HTTP_UNAVAILABLE = { status: 503, headers: { 'retry-after': retryAfter } };

// Without a stack: nobody reads a refusal's, and capturing one (through the server's promise chains)
// was ~4 % of the gateway's busy time in a storm of refused reads (bench/storm-profile-2026-12-07.json).
const unavailable = () => {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new GraphQLError('the service is over capacity; try again shortly', {
      extensions: { code: 'UNAVAILABLE', http: HTTP_UNAVAILABLE },
    });
  } finally {
    Error.stackTraceLimit = limit;
  }
};

const refusalBody = JSON.stringify({
  errors: [{ message: 'the service is over capacity; try again shortly', extensions: { code: 'UNAVAILABLE' } }],
});

export const loadShedding = () => ({
  // Short of CPU: refused before the body is read or anything is parsed.
  onRequest({ request, endResponse, fetchAPI }: any) {
    if (maxLagMs > 0 && lagMs > maxLagMs && request.method === 'POST') {
      endResponse(new fetchAPI.Response(refusalBody, {
        status: 503, headers: { 'content-type': 'application/json', 'retry-after': retryAfter },
      }));
    }
  },
  // The slot is taken when the execution itself starts, not before: a later plugin may still end the
  // operation first (the rate limiter throws RATE_LIMITED), and then it must hold nothing. It is given
  // back when the execution settles, whatever the outcome.
  //
  // With no slot free and the queue full, the operation is refused here and now, before the plugins
  // after this one see it: the rate limiters' walk of the document's outline was still ~9 % of the
  // gateway's busy time in a storm of refused reads (bench/storm-profile-2026-12-07.json), spent on
  // operations that would not run.
  // Nothing has counted it or holds anything for it yet; a refused mutation changed nothing, so no
  // cached entry needs dropping for it.
  onExecute({ args, executeFn, setExecuteFn, setResultAndStopExecution }: any) {
    const gate = rootsOf(args.document, args.operationName).type === 'mutation' ? gates.write : gates.read;
    if (gate.refusesAtOnce()) {
      setResultAndStopExecution({ errors: [unavailable()] });
      return;
    }
    setExecuteFn((executeArgs: unknown) => {
      const run = (release: Release | undefined): any => {
        if (!release) return { errors: [unavailable()] };
        let result: any;
        try {
          result = executeFn(executeArgs);
        } catch (error) {
          release();
          throw error;
        }
        if (typeof result?.then === 'function') return result.finally(release);
        release();
        return result;
      };
      const slot = gate.acquire();
      return slot instanceof Promise ? slot.then(run) : run(slot);
    });
  },
  // A subgraph that refused (its own limit) or cannot reach its database: the whole answer says so in
  // its status, one code one status; Retry-After is the subgraph's own hint when it gave one.
  onResultProcess({ result }: any) {
    for (const one of Array.isArray(result) ? result : [result]) {
      for (const error of one?.errors ?? []) {
        if (error?.extensions?.code === 'UNAVAILABLE' && !error.extensions.http) {
          const hint = Number(error.extensions.retryAfter);
          const http = Number.isInteger(hint) && hint > 0
            ? { status: 503, headers: { 'retry-after': String(hint) } } : HTTP_UNAVAILABLE;
          error.extensions = { ...error.extensions, http };
        }
      }
    }
  },
});
