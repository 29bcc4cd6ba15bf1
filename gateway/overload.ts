// Load shedding: past what the stack can answer in time, refuse at once (HTTP 503, Retry-After,
// UNAVAILABLE) instead of queueing until every answer is late.
//
// Every operation the gateway executes (a cache hit is answered before, and is not counted) takes a
// slot of its class: reads (queries) or writes (mutations: checkout, orders), so a flood of panel
// reads never starves a checkout. No slot free: the operation waits in a short queue; the queue full,
// or no slot within the wait, it is refused. The default sizes come from measuring this machine
// (docs/operations.md, "Overload"): a cache-miss panel costs ~13 ms of CPU across the stack, ~150
// of them a second fill 2 cores, and 16 in flight already reach that rate; 16 more waiting add
// ~100 ms at most, and anything beyond would only wait.
//
// A subgraph refuses too when its own limit is reached (shared/runtime.py, SUBGRAPH_MAX_CONCURRENT):
// its UNAVAILABLE error makes the gateway's answer a 503 with Retry-After as well.
//
// Environment:
//   GATEWAY_MAX_READS          queries executing at once                          (16)
//   GATEWAY_MAX_WRITES         mutations executing at once                        (16)
//   GATEWAY_QUEUED_READS       queries waiting for a slot                         (16)
//   GATEWAY_QUEUED_WRITES      mutations waiting for a slot                       (256)
//   GATEWAY_QUEUE_WAIT_MS      longest wait for a slot                            (1000)
//   OVERLOAD_RETRY_AFTER       seconds in Retry-After                             (1)
import { getOperationAST, GraphQLError } from 'graphql';
import { positive } from './settings.ts';

const retryAfter = String(positive('OVERLOAD_RETRY_AFTER', 1));
const waitMs = positive('GATEWAY_QUEUE_WAIT_MS', 1000);

type Release = () => void;

export class Gate {
  private active = 0;
  private waiting: { admit: (release: Release | undefined) => void; timer: NodeJS.Timeout }[] = [];
  readonly counts = { admitted: 0, queued: 0, refused: 0 };

  constructor(readonly name: string, readonly limit: number, readonly queue: number) {}

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
        }, waitMs),
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
  read: new Gate('read', positive('GATEWAY_MAX_READS', 16), positive('GATEWAY_QUEUED_READS', 16)),
  write: new Gate('write', positive('GATEWAY_MAX_WRITES', 16), positive('GATEWAY_QUEUED_WRITES', 256)),
};

const HTTP_UNAVAILABLE = { status: 503, headers: { 'retry-after': retryAfter } };

const unavailable = () =>
  new GraphQLError('the service is over capacity; try again shortly', {
    extensions: { code: 'UNAVAILABLE', http: HTTP_UNAVAILABLE },
  });

export const loadShedding = () => ({
  // The slot is taken when the execution itself starts, not before: a later plugin may still end the
  // operation first (the rate limiter throws RATE_LIMITED), and then it must hold nothing. It is given
  // back when the execution settles, whatever the outcome.
  onExecute({ args, executeFn, setExecuteFn }: any) {
    const operation = getOperationAST(args.document, args.operationName)?.operation;
    const gate = operation === 'mutation' ? gates.write : gates.read;
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
  // A subgraph that refused (its own limit): the whole answer says so in its status.
  onResultProcess({ result }: any) {
    for (const one of Array.isArray(result) ? result : [result]) {
      for (const error of one?.errors ?? []) {
        if (error?.extensions?.code === 'UNAVAILABLE' && !error.extensions.http) {
          error.extensions = { ...error.extensions, http: HTTP_UNAVAILABLE };
        }
      }
    }
  },
});
