// The response cache: Hive Gateway's own (@graphql-mesh/plugin-response-cache, the plugin behind its
// `responseCaching` option, on envelop's useResponseCache; gateway.config.ts lists it among our
// plugins, for their order), configured here, with a store of ours and an invalidation consumer
// (invalidation.ts) that drops what Flywheel's events change.
//
// What is cached, and for whom (the key is a SHA-256 of scope, document, operation name, variables):
//   public reads   an operation whose root fields are all public (tiers, rewardsCatalog, badgeCatalog,
//                  challenges, challenge, product) and that selects nothing that depends on the caller
//                  (isMe, customerId): one entry per shop, shared by anonymous and signed-in callers.
//   customer reads any other query of a verified customer token (callers.ts checked it): one entry per
//                  shop and customer, never shared across customers.
//   nothing else   admins' and API keys' reads, anonymous reads of anything else, mutations, errors,
//                  answers with extensions.warnings, callers whose token expired (their answers carry
//                  the TOKEN_EXPIRED warning, callers.ts) and checkoutBenefits (a checkout check,
//                  TTL 0) always go to the subgraphs.
//
// Freshness: entries live until an event or mutation changes one of their entities (typename and
// id, e.g. Customer.c-1, Product.p-mug; the plugin adds __typename and id to every selection), TTLs
// are a safety net (CACHE_TTL_SECONDS; Challenge and Offer entries less, their status moves with
// the clock). A customer's own mutation drops that customer's entries before it answers. A read that
// was already running when one of its entities changed is not stored (its data may predate the
// change); an entity "held" by an event that another service still has to act on (invalidation.ts)
// is not stored either until the hold ends. While the invalidation consumer has no broker
// connection, customer entries are neither served nor stored, and every (re)connection empties the
// cache: events may have been missed (fail fresh, never stale).
//
// Responses carry x-flywheel-cache: hit | miss (cacheable, not found) | bypass (not cacheable now).
// Hits are answered before execution: neither the rate limits nor the overload slots see them (the
// event-loop guard of overload.ts does).
//
// Environment:
//   CACHE_ENABLED            false: no response cache at all                         (true)
//   CACHE_TTL_SECONDS        safety-net lifetime of an entry                         (300)
//   CACHE_SHORT_TTL_SECONDS  entries holding a Challenge or an Offer                 (60)
//   CACHE_MAX_ENTRIES        entries kept; the oldest go first                       (20000)
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Kind, parse } from 'graphql';
import { callerOfRequest } from './callers.ts';
import { rootsOf } from './operations.ts';
import { env, positive } from './settings.ts';

export const cacheEnabled = env('CACHE_ENABLED') !== 'false';
const ttlMs = positive('CACHE_TTL_SECONDS', 300) * 1000;
const shortTtlMs = positive('CACHE_SHORT_TTL_SECONDS', 60) * 1000;
const maxEntries = positive('CACHE_MAX_ENTRIES', 20_000);
// A read that started longer ago than this is not stored: the changes the store remembers (to
// refuse reads that started before them) are kept this long. Far above any accepted read's time.
const MAX_READ_MS = 15_000;

// --- what an operation is ----------------------------------------------------------------------------
const PUBLIC_ROOT_FIELDS = new Set(['tiers', 'rewardsCatalog', 'badgeCatalog', 'challenges', 'challenge', 'product',
  '__typename']);
// Fields whose value depends on who asks (LeaderboardEntry.isMe, Review.customerId, …).
const CALLER_FIELDS = new Set(['isMe', 'customerId']);

type Operation = { kind: 'query' | 'mutation' | 'other'; public: boolean; leaderboard: boolean; roots: string[] };
const operations = new Map<string, Operation>();
const MAX_OPERATIONS = 2000;

export const operationOf = (query: string | undefined, operationName: string | undefined): Operation => {
  const memoKey = `${operationName ?? ''}\n${query ?? ''}`;
  let found = operations.get(memoKey);
  if (found) return found;
  found = { kind: 'other', public: false, leaderboard: false, roots: [] };
  try {
    const document = parse(query ?? '', { noLocation: true });
    const { type, fields } = rootsOf(document, operationName);
    if (type !== 'other') { // a query or a mutation: nothing else is cached or drops anything
      let callerDependent = false;
      let leaderboard = false;
      const walk = (node: any): void => {
        if (!node || typeof node !== 'object') return;
        if (node.kind === Kind.FIELD) {
          if (CALLER_FIELDS.has(node.name.value)) callerDependent = true;
          if (node.name.value === 'leaderboard') leaderboard = true;
        }
        for (const value of Object.values(node)) {
          if (Array.isArray(value)) value.forEach(walk);
          else if (value && typeof value === 'object' && 'kind' in value) walk(value);
        }
      };
      walk(document);
      found = {
        kind: type,
        public: !callerDependent && [...fields].every((field) => PUBLIC_ROOT_FIELDS.has(field)),
        leaderboard,
        roots: [...fields],
      };
    }
  } catch {
    // not a document: the gateway answers with the parse error, nothing to cache
  }
  if (operations.size >= MAX_OPERATIONS) operations.clear();
  operations.set(memoKey, found);
  return found;
};

// --- the consumer's state (invalidation.ts sets it) --------------------------------------------------
let consumerConnected = false;
export const setConsumerConnected = (connected: boolean): void => {
  consumerConnected = connected;
};
export const isConsumerConnected = (): boolean => consumerConnected;

// --- per request -------------------------------------------------------------------------------------
// The scope decided when the key is built (onParams), read again by `enabled` and the headers.
type Decision = { cacheable: boolean; private: boolean; mutation: boolean; hit?: boolean };
const decisions = new WeakMap<object, Decision>();

// When the operation began and what it is tagged with: the store reads it when a result comes to be
// stored (the operation's async context carries it from Yoga's operation instrumentation).
type Read = { startedAt: number; tags: string[]; invalidated: string[] };
const reads = new AsyncLocalStorage<Read>();

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

// The plugin's session: a verified customer's shop and id (callers.ts checked the token in onRequest);
// none for anyone else.
const session = (request: any): string | null => {
  const caller = callerOfRequest(request);
  return caller.kind === 'customer' && caller.customer !== undefined ? `${caller.shop}\n${caller.customer}` : null;
};

const buildResponseCacheKey = ({ documentString, variableValues, operationName, sessionId, request }: any): string => {
  const operation = operationOf(documentString, operationName);
  const caller = callerOfRequest(request);
  let scope: string | undefined;
  const decision: Decision = { cacheable: false, private: false, mutation: operation.kind === 'mutation' };
  // An expired token's caller is public only for now, and its answer carries a warning: never cached.
  if (operation.kind === 'query' && documentString && !caller.tokenExpired) {
    if (operation.public && (caller.kind === 'public' || caller.kind === 'customer')) {
      scope = `public\n${caller.shop}`; // shared by everyone in the shop
    } else if (sessionId) {
      scope = `customer\n${sessionId}`; // this customer's alone
      decision.private = true;
    }
  }
  decision.cacheable = scope !== undefined;
  decisions.set(request, decision);
  const read = reads.getStore();
  if (read && operation.leaderboard) read.tags.push('Leaderboard');
  // A public list is linked to its root field ("Query.badgeCatalog"): its items may have no id (a
  // badge, a tier), and an item added later is in no entry yet; what changes the list drops the field.
  if (read && decision.cacheable) read.tags.push(...operation.roots.filter((f) => f !== '__typename').map((f) => `Query.${f}`));
  // A customer's entry belongs to the customer whatever it shows (even without `me { id }`).
  if (read && decision.private) read.tags.push(`Customer.${caller.customer}`);
  return sha256([scope ?? `none\n${Math.random()}`, documentString ?? '', operationName ?? '',
    JSON.stringify(variableValues ?? {})].join('\n'));
};

const enabled = (request: any): boolean => {
  const decision = decisions.get(request);
  if (!decision) return false; // before the key (If-None-Match in onRequest): no 304s from the cache
  if (decision.mutation) return true; // mutations invalidate what they return (invalidateViaMutation)
  return decision.cacheable && (!decision.private || consumerConnected);
};

// Only a clean answer is kept: no errors (a refusal, a failing subgraph) and no warnings (an expired
// token's TOKEN_EXPIRED is its caller's alone).
const clean = (result: any): boolean =>
  !!result && typeof result === 'object' && !result.errors?.length && !result.extensions?.warnings;

// --- the store -----------------------------------------------------------------------------------
// The mesh plugin writes, per response R with entities E1..En: `response-cache:R` (the result) and
// `response-cache:Ei:R`, `response-cache:R:Ei` (the links). The in-memory LRU store Hive offers would
// evict a link apart from its response (an invalidation then misses it) and finds an entity's links
// by scanning every key. This store keeps a response and its links together, indexes them by entity
// and by type, and takes "the links of entity E" (asked only while invalidating) as E's change.
const PREFIX = 'response-cache:';
const HEX_KEY = /^[0-9a-f]{64}$/;

type Entry = { value: unknown; expires: number; startedAt: number; links: Set<string> };

const typeOf = (entity: string): string => {
  const dot = entity.indexOf('.');
  return dot < 0 ? entity : entity.slice(0, dot);
};
// "Challenge.undefined": the plugin's name for "some Challenge" (an empty list of them).
const normalised = (entity: string): string => (entity.endsWith('.undefined') ? typeOf(entity) : entity);

export class EntityStore {
  private entries = new Map<string, Entry>();
  private byEntity = new Map<string, Set<string>>();
  private changedAt = new Map<string, number>(); // entity, type or '*' -> when it (last) changes
  readonly counts = { hits: 0, misses: 0, stored: 0, refused: 0, invalidated: 0, flushes: 0 };

  constructor() {
    setInterval(() => this.sweep(), 10_000).unref();
  }

  get size(): number {
    return this.entries.size;
  }

  // --- KeyValueCache -----------------------------------------------------------------------------
  get(key: string): unknown {
    const id = key.slice(PREFIX.length);
    const entry = this.entries.get(id);
    if (!entry) {
      if (HEX_KEY.test(id)) this.counts.misses += 1;
      return undefined;
    }
    if (entry.expires <= performance.now()) {
      this.drop(id);
      this.counts.misses += 1;
      return undefined;
    }
    this.counts.hits += 1;
    return entry.value;
  }

  set(key: string, value: unknown, options?: { ttl?: number }): void {
    const rest = key.slice(PREFIX.length);
    if (HEX_KEY.test(rest)) {
      if (clean(value)) this.store(rest, value, options?.ttl);
      else this.counts.refused += 1;
      return;
    }
    const colon = rest.lastIndexOf(':');
    const id = rest.slice(colon + 1);
    if (colon < 0 || !HEX_KEY.test(id)) return; // `R:Ei`: the same link the other way round
    this.link(id, normalised(rest.slice(0, colon)));
  }

  delete(key: string): boolean {
    const rest = key.slice(PREFIX.length);
    const id = HEX_KEY.test(rest) ? rest : rest.slice(rest.lastIndexOf(':') + 1);
    return this.drop(id);
  }

  getKeysByPrefix(prefix: string): string[] {
    const rest = prefix.slice(PREFIX.length, -1);
    if (HEX_KEY.test(rest)) return []; // a response's own links: it went with the first one
    // The plugin invalidating what a mutation returned: that entity changed now.
    const entity = normalised(rest);
    this.changed(entity, performance.now());
    reads.getStore()?.invalidated.push(entity);
    return [...(this.byEntity.get(entity) ?? [])].map((id) => `${PREFIX}${rest}:${id}`);
  }

  // --- invalidation ------------------------------------------------------------------------------
  /** Drop every entry holding one of `entities` ("Customer.c-1", or a type: "Challenge"); with
   * holdMs, refuse to store them again until then (another service is still acting on the event). */
  invalidate(entities: Iterable<string>, holdMs = 0): void {
    const until = performance.now() + holdMs;
    for (const entity of entities) {
      this.changed(entity, until);
      for (const id of [...(this.byEntity.get(entity) ?? [])]) this.drop(id);
    }
  }

  /** Everything, and nothing that was being read before now is stored. */
  flush(): void {
    this.changed('*', performance.now());
    this.entries.clear();
    this.byEntity.clear();
    this.counts.flushes += 1;
  }

  private changed(entity: string, at: number): void {
    if ((this.changedAt.get(entity) ?? -Infinity) < at) this.changedAt.set(entity, at);
    this.counts.invalidated += 1;
  }

  private staleFor(entity: string, startedAt: number): boolean {
    const at = Math.max(this.changedAt.get(entity) ?? -Infinity, this.changedAt.get(typeOf(entity)) ?? -Infinity);
    return at >= startedAt || at > performance.now();
  }

  private store(id: string, value: unknown, ttlSeconds: number | undefined): void {
    const read = reads.getStore();
    const now = performance.now();
    if (!read || now - read.startedAt > MAX_READ_MS || (this.changedAt.get('*') ?? -Infinity) >= read.startedAt) {
      this.counts.refused += 1;
      return;
    }
    this.drop(id);
    const ttl = Math.min(ttlSeconds !== undefined && Number.isFinite(ttlSeconds) ? ttlSeconds * 1000 : ttlMs, ttlMs);
    this.entries.set(id, { value, expires: now + ttl, startedAt: read.startedAt, links: new Set() });
    this.counts.stored += 1;
    for (const tag of read.tags) this.link(id, tag);
    while (this.entries.size > maxEntries) this.drop(this.entries.keys().next().value as string);
  }

  private link(id: string, entity: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (this.staleFor(entity, entry.startedAt)) {
      this.drop(id);
      this.counts.stored -= 1;
      this.counts.refused += 1;
      return;
    }
    for (const key of entity === typeOf(entity) ? [entity] : [entity, typeOf(entity)]) {
      entry.links.add(key);
      let ids = this.byEntity.get(key);
      if (!ids) this.byEntity.set(key, (ids = new Set()));
      ids.add(id);
    }
  }

  private drop(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    for (const key of entry.links) {
      const ids = this.byEntity.get(key);
      ids?.delete(id);
      if (ids?.size === 0) this.byEntity.delete(key);
    }
    return true;
  }

  private sweep(): void {
    const now = performance.now();
    for (const [id, entry] of this.entries) if (entry.expires <= now) this.drop(id);
    for (const [entity, at] of this.changedAt) if (at < now - MAX_READ_MS) this.changedAt.delete(entity);
  }
}

export const store = new EntityStore();

// --- configuration for defineConfig ------------------------------------------------------------------
export const responseCaching = () =>
  cacheEnabled
    ? {
        cache: store,
        session,
        buildResponseCacheKey,
        enabled,
        ttl: ttlMs,
        ttlPerSchemaCoordinate: {
          'Query.checkoutBenefits': 0, // a checkout check: always live
          Challenge: shortTtlMs, // ACTIVE/ENDED follow startsAt/endsAt (invalidation.ts also acts then)
          Offer: shortTtlMs, // ACTIVE ends at expiresAt
        },
        invalidateViaMutation: true,
        shouldCacheResult: ({ result }: any) => clean(result),
        includeExtensionMetadata: false,
      }
    : undefined;

// --- the plugin around it ---------------------------------------------------------------------------
const SERVED_FROM_CACHE = Symbol.for('servedFromResponseCache');

// Admin mutations that add to (or reorder) a public list: an entity the lists do not hold yet cannot
// be found by its id, so every entry holding the type goes. '*': everything (the program's tiers
// have no id and move every customer's tier progress).
export const CHALLENGE_LISTS = ['Challenge', 'Leaderboard', 'Query.challenges', 'Query.challenge', 'Query.badgeCatalog'];
const LIST_CHANGES: Record<string, string[]> = {
  upsertReward: ['Reward', 'Query.rewardsCatalog'],
  launchChallenge: CHALLENGE_LISTS,
  endChallenge: CHALLENGE_LISTS,
  configureProgram: ['*'],
  configureReferrals: ['*'],
};

// What a mutation dropped here, for the other gateway instances (invalidation.ts broadcasts it).
let broadcaster: (entities: string[]) => void = () => {};
export const onLocalInvalidation = (send: (entities: string[]) => void): void => {
  broadcaster = send;
};

/** Drop entities here (and, for a mutation, tell the other instances). '*' empties everything. */
export const invalidateHere = (entities: string[]): void => {
  if (entities.includes('*')) store.flush();
  else store.invalidate(entities);
  reads.getStore()?.invalidated.push(...entities);
};

export const cacheFreshness = () => ({
  instrumentation: {
    operation(_payload: unknown, wrapped: () => unknown) {
      const read: Read = { startedAt: performance.now(), tags: [], invalidated: [] };
      const done = () => {
        if (read.invalidated.length) broadcaster([...new Set(read.invalidated)]);
      };
      return reads.run(read, () => {
        const result: any = wrapped();
        if (typeof result?.then === 'function') return result.finally(done);
        done();
        return result;
      });
    },
  },
  // A customer's own mutation: their entries go before the answer does, whatever it returned; an
  // admin's change to a public list: every entry of the type.
  onExecute({ args }: any) {
    const request = args.contextValue?.request;
    if (!cacheEnabled || !decisions.get(request)?.mutation) return;
    const caller = callerOfRequest(request);
    const lists = [...rootsOf(args.document, args.operationName).fields].flatMap((field) => LIST_CHANGES[field] ?? []);
    const entities = [...lists, ...(caller.kind === 'customer' && caller.customer ? [`Customer.${caller.customer}`] : [])];
    if (!entities.length) return;
    return {
      onExecuteDone() {
        invalidateHere(entities); // refused or not: dropping too much only costs a read
      },
    };
  },
  onResultProcess({ request, result }: any) {
    const decision = decisions.get(request);
    if (decision && result && !Array.isArray(result) && result[SERVED_FROM_CACHE]) decision.hit = true;
  },
  onResponse({ request, response }: any) {
    if (!cacheEnabled) return;
    const decision = decisions.get(request);
    const status = !decision || !enabled(request) || decision.mutation ? 'bypass' : decision.hit ? 'hit' : 'miss';
    response.headers.set('x-flywheel-cache', status);
    // The plugin's ETag is the key, the same after the entry changed: a client's If-None-Match
    // would be told its old copy is still good. No validators leave the gateway.
    response.headers.delete('etag');
    response.headers.delete('last-modified');
  },
});
