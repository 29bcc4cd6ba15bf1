// The response cache's invalidation consumer: Flywheel's events (shared/bus.py: topic exchange
// flywheel.events, routing key = event type, body a CloudEvents JSON envelope with `shop` and `data`)
// on a queue of this gateway process's own (server-named, exclusive, deleted with the connection:
// every gateway instance hears every event), bound to the event types that change cached reads.
//
// An event drops the entries holding the entities it names (cache.ts): the customers (customer_id,
// referrer_id, friend_id), the product, the challenge, the offer, the review; some also a whole type
// (a launched challenge: every list of challenges) or every leaderboard (anything a challenge can
// count). And it holds them for CACHE_SETTLE_MS: the same event is on its way to other services
// that change what a read shows (an order.paid moves points, challenge progress, the streak; only
// some of that is announced by an event of its own), so until then a read of those entities goes
// to the subgraphs and is not stored. The owner's own change is in the database before its event
// leaves (transactional outbox), so the first read after the event sees it.
//
// A mutation's invalidations (cache.ts) go to the other gateway instances on the same exchange
// (routing key gateway.cache.invalidated, which no service binds).
//
// No broker: customer entries are not served (cache.ts) until the consumer is back; on every
// (re)connection the cache is emptied, since events may have been missed meanwhile. A message that
// is not a CloudEvent empties it too.
//
// Environment:
//   AMQP_URL, else AMQP_USER, AMQP_PASSWORD, AMQP_HOST, AMQP_PORT, AMQP_VHOST (as the services)
//   CACHE_SETTLE_MS          how long an event's entities stay uncached      (2000)
import { hostname } from 'node:os';
import amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { CHALLENGE_LISTS, cacheEnabled, onLocalInvalidation, setConsumerConnected, store } from './cache.ts';
import { env, positive } from './settings.ts';

const EXCHANGE = 'flywheel.events';
// What one gateway instance's mutations dropped, for the others (not a catalog event: no service
// binds it). Sent by this process, skipped when it comes back to it.
const BROADCAST = 'gateway.cache.invalidated';
const INSTANCE = randomUUID();
const settleMs = positive('CACHE_SETTLE_MS', 2000);
const RETRY_MS = [500, 1000, 2000, 5000];

const amqpUrl = (): string => {
  const url = env('AMQP_URL');
  if (url) return url;
  const user = encodeURIComponent(env('AMQP_USER') ?? 'flywheel');
  const password = encodeURIComponent(env('AMQP_PASSWORD') ?? 'flywheel');
  const vhost = encodeURIComponent(env('AMQP_VHOST') ?? 'flywheel');
  return `amqp://${user}:${password}@${env('AMQP_HOST') ?? '127.0.0.1'}:${env('AMQP_PORT') ?? '5682'}/${vhost}`;
};

// --- what each event changes -------------------------------------------------------------------------
type Data = Record<string, unknown>;
const ENTITY_FIELDS: [field: string, typename: string][] = [
  ['customer_id', 'Customer'],
  ['referrer_id', 'Customer'],
  ['friend_id', 'Customer'],
  ['product_id', 'Product'],
  ['challenge_id', 'Challenge'],
  ['offer_id', 'Offer'],
  ['review_id', 'Review'],
];
// Anything a challenge goal counts (services/points/challenges/counting.py): leaderboards move.
const COUNTED = ['order.paid', 'order.refunded', 'order.cancelled', 'review.published', 'ugc.submitted',
  'referral.converted'];

// The bound event types and what else than their named entities they change.
export const EVENTS: Record<string, string[]> = {
  'customer.registered': [],
  'customer.updated': [],
  'customer.segment_changed': [], // also a challenge's audience
  'customer.erased': ['Review', 'Leaderboard'], // their reviews leave every product page
  'order.placed': [],
  'order.paid': [],
  'order.shipped': [],
  'order.delivered': [], // pending points released, products to review
  'order.cancelled': [],
  'order.refunded': [],
  'points.earned': [],
  'points.reversed': [],
  'points.expired': [],
  'tier.changed': [],
  'reward.redeemed': [],
  'credit.granted': [],
  'credit.spent': [],
  'challenge.launched': CHALLENGE_LISTS, // a new one in every list of challenges (and maybe a badge)
  'challenge.completed': ['Leaderboard'],
  'offer.issued': [],
  'offer.redeemed': [],
  'offer.released': [],
  'offer.revoked': [],
  'referral.signed_up': [],
  'referral.converted': [],
  'referral.rejected': [],
  'referral.reversed': [],
  'review.submitted': [],
  'review.published': [], // the product's rating and reviews, the author's reviews and rewards
  'review.rejected': [],
  'review.requested': [],
  'ugc.submitted': [],
  'notification.sent': [],
  'notification.failed': [],
  'notification.opened': [],
  'notification.clicked': [],
};
for (const type of COUNTED) EVENTS[type] = [...new Set([...EVENTS[type], 'Leaderboard'])];

export const entitiesOf = (type: string, data: Data): string[] => {
  const found = new Set(EVENTS[type] ?? []);
  for (const [field, typename] of ENTITY_FIELDS) {
    const value = data[field];
    if (typeof value === 'string' && value) found.add(`${typename}.${value}`);
  }
  return [...found];
};

// A challenge's status follows the clock (ACTIVE from startsAt, ENDED at endsAt): lists of challenges
// change then too, without an event. Timers for the ones launched while this process runs; the
// short TTL of Challenge entries (cache.ts) covers the others.
const MAX_TIMER_MS = 2 ** 31 - 1;
const atTime = (iso: unknown): void => {
  const wait = typeof iso === 'string' ? Date.parse(iso) - Date.now() : NaN;
  if (wait > 0 && wait < MAX_TIMER_MS) setTimeout(() => store.invalidate(CHALLENGE_LISTS), wait + 50).unref();
};

export const handle = (type: string, body: Buffer): void => {
  if (type === BROADCAST) {
    let message: any;
    try {
      message = JSON.parse(body.toString('utf8'));
    } catch {
      message = undefined;
    }
    if (message?.origin === INSTANCE) return;
    if (!Array.isArray(message?.entities)) store.flush();
    else if (message.entities.includes('*')) store.flush();
    else store.invalidate(message.entities.filter((e: unknown) => typeof e === 'string'));
    return;
  }
  let envelope: any;
  try {
    envelope = JSON.parse(body.toString('utf8'));
  } catch {
    envelope = undefined;
  }
  const data = envelope?.data;
  if (!data || typeof data !== 'object') {
    console.warn(`[cache] ${type}: not a Flywheel CloudEvent; emptying the cache`);
    store.flush();
    return;
  }
  store.invalidate(entitiesOf(type, data), settleMs);
  if (type === 'challenge.launched') {
    atTime(data.starts_at);
    atTime(data.ends_at);
  }
};

// --- the connection -----------------------------------------------------------------------------------
// Unref'd: a wait between attempts must not keep a stopping process alive.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

// On SIGTERM (or SIGINT) Hive disposes the gateway and the process ends once nothing else holds the
// event loop, but the broker connection did, until the SIGKILL: 10 s later from stack.sh, the whole
// grace period in Kubernetes, on every stop. So the consumer is disposed with the gateway
// (invalidationConsumer, a plugin's onDispose) and closes its connection.
let stopping = false;
let stopConsumer: () => void = () => {};

// Connects, binds, consumes; resolves when the connection or its channel is gone.
const consumeOnce = async (): Promise<string> => {
  const connection = await amqp.connect(amqpUrl(), {
    heartbeat: 5,
    clientProperties: { connection_name: `gateway-cache@${hostname()}:${process.pid}` },
  });
  let lost: (why: string) => void = () => {};
  const gone = new Promise<string>((resolve) => (lost = resolve));
  if (stopping) {
    connection.close().catch(() => {});
    return 'stopping';
  }
  stopConsumer = () => lost('stopping');
  connection.on('error', (error: Error) => lost(error.message));
  connection.on('close', () => lost('connection closed'));
  try {
    const channel = await connection.createChannel();
    channel.on('error', (error: Error) => lost(error.message));
    channel.on('close', () => lost('channel closed'));
    await channel.assertExchange(EXCHANGE, 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    for (const type of [...Object.keys(EVENTS), BROADCAST]) await channel.bindQueue(queue, EXCHANGE, type);
    await channel.consume(queue, (message) => {
      if (message) handle(message.fields.routingKey, message.content);
    }, { noAck: true });
    onLocalInvalidation((entities) => {
      try {
        channel.publish(EXCHANGE, BROADCAST, Buffer.from(JSON.stringify({ origin: INSTANCE, entities })),
          { contentType: 'application/json' });
      } catch {
        // the connection is going: the other instances flush when they reconnect
      }
    });
  } catch (error) {
    connection.close().catch(() => {});
    throw error;
  }
  // Bound and consuming: whatever happened while no queue listened is forgotten with the entries.
  store.flush();
  setConsumerConnected(true);
  console.info(`[cache] invalidation consumer bound to ${Object.keys(EVENTS).length} event types on ${EXCHANGE}`);
  const why = await gone;
  stopConsumer = () => {};
  onLocalInvalidation(() => {});
  connection.close().catch(() => {});
  return why;
};

/** The consumer's place in the gateway's life: it ends when the gateway is disposed. */
export const invalidationConsumer = () => ({
  onDispose() {
    stopping = true;
    stopConsumer();
  },
});

export const startInvalidation = (): void => {
  if (!cacheEnabled) return;
  void (async () => {
    for (let attempt = 0; !stopping; attempt += 1) {
      try {
        const why = await consumeOnce();
        attempt = 0;
        if (stopping) break;
        console.warn(`[cache] invalidation consumer lost the broker (${why}); customer entries are not served until it is back`);
      } catch (error) {
        if (stopping) break;
        if (attempt === 0) console.warn(`[cache] cannot reach the broker (${(error as Error).message}); retrying`);
      }
      setConsumerConnected(false);
      await sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]);
    }
    setConsumerConnected(false); // still answering while it drains: no customer entry without invalidations
  })();
};
