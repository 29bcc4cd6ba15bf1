// Open-loop load: requests sent on a fixed schedule (request i is due at start + i / rate), whether or
// not earlier ones have answered; each latency counts from when its request was due, so a slow server
// shows in the percentiles instead of slowing the sender down (no coordinated omission). Node's own
// HTTP client on keep-alive connections: cheap enough per request that the sender is not the limit
// at 1000 req/s on a shared 2-core machine (its CPU is measured with the rest, tests/bench/cpu.py).
//
//   node tests/bench/openloop.mjs PLAN.json   ->  prints one JSON summary on stdout
//
// PLAN: { url, rate, templates: [document], headers: [{name: value}], requests: [[template, headers,
//         variables-or-null, label]] }  (one entry per request, in schedule order)
// Summary: per label and per x-flywheel-cache status: count, ok, refused (503/429), errors, p50/p99
// from the due time; and the achieved rate of answered-OK requests over the offered window.
// OPENLOOP_DUMP=FILE also writes one line per request, in schedule order: when it was due (ms from
// the start), its latency (ms) and HTTP status (0: no answer): to see when in a run the slow ones were.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const url = new URL(plan.url);
// Connections are bounded, as a load balancer's are: past SOCKETS in flight, a request waits for a
// free connection (and its latency, counted from the due time, shows the wait). Unbounded, thousands
// of connections overflow the server's accept queue and the dropped ones hang.
const SOCKETS = Number(process.env.OPENLOOP_SOCKETS ?? 256);
const TIMEOUT_MS = Number(process.env.OPENLOOP_TIMEOUT_MS ?? 30_000);
const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS, maxFreeSockets: SOCKETS });
const total = plan.requests.length;
const interval = 1000 / plan.rate;
const results = new Array(total);

const send = (i, due) => {
  const [template, headerIndex, variables, label] = plan.requests[i];
  const body = JSON.stringify({ query: plan.templates[template], variables: variables ?? {} });
  const request = http.request({
    agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
      ...plan.headers[headerIndex] },
  }, (response) => {
    const chunks = [];
    response.on('data', (chunk) => chunks.push(chunk));
    response.on('end', () => {
      if (results[i]) return;
      const latency = performance.now() - due;
      let failed = response.statusCode !== 200;
      if (!failed) {
        try {
          failed = Boolean(JSON.parse(Buffer.concat(chunks).toString('utf8')).errors);
        } catch {
          failed = true;
        }
      }
      results[i] = { label, latency, status: response.statusCode, cache: response.headers['x-flywheel-cache'] ?? '',
        failed, end: performance.now() };
      finish();
    });
  });
  request.setTimeout(TIMEOUT_MS, () => request.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)));
  request.on('error', (error) => {
    if (results[i]) return;
    results[i] = { label, latency: performance.now() - due, status: 0, cache: '', failed: true,
      error: error.message, end: performance.now() };
    finish();
  });
  request.end(body);
};

let answered = 0;
let start = 0;
const finish = () => {
  answered += 1;
  if (answered === total) report();
};

const percentile = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0,
  Math.round((p / 100) * (sorted.length - 1))))] : null;
const round = (v) => (v === null ? null : Math.round(v * 100) / 100);

const summarise = (rows, seconds) => {
  const ok = rows.filter((r) => !r.failed);
  const refused = rows.filter((r) => r.status === 503 || r.status === 429);
  const errors = rows.filter((r) => r.failed && r.status !== 503 && r.status !== 429);
  const okLatencies = ok.map((r) => r.latency).sort((a, b) => a - b);
  const refusedLatencies = refused.map((r) => r.latency).sort((a, b) => a - b);
  return {
    requests: rows.length, ok: ok.length, refused: refused.length, errors: errors.length,
    achieved_per_s: round(ok.length / seconds),
    p50_ms: round(percentile(okLatencies, 50)), p99_ms: round(percentile(okLatencies, 99)),
    max_ms: round(okLatencies.at(-1) ?? null),
    refused_p50_ms: round(percentile(refusedLatencies, 50)), refused_p99_ms: round(percentile(refusedLatencies, 99)),
    ...(errors.length ? { first_error: errors[0].error ?? `HTTP ${errors[0].status}` } : {}),
  };
};

const report = () => {
  const seconds = Math.max(total / plan.rate, (Math.max(...results.map((r) => r.end)) - start) / 1000);
  const groups = {};
  for (const r of results) {
    for (const key of [`label:${r.label}`, `cache:${r.cache || 'none'}`]) (groups[key] ??= []).push(r);
  }
  const out = { offered_per_s: plan.rate, seconds: round(seconds), all: summarise(results, seconds), by: {} };
  for (const [key, rows] of Object.entries(groups)) out.by[key] = summarise(rows, seconds);
  agent.destroy();
  if (process.env.OPENLOOP_DUMP) {
    writeFileSync(process.env.OPENLOOP_DUMP, results.map((r, i) =>
      `${(i * interval).toFixed(1)} ${r.latency.toFixed(1)} ${r.status}\n`).join(''));
  }
  process.stdout.write(JSON.stringify(out));
};

// The dispatcher: every millisecond or so, send what has come due (late ones at once: their latency
// still counts from the due time).
start = performance.now() + 50;
let next = 0;
const tick = () => {
  const now = performance.now();
  while (next < total && start + next * interval <= now) {
    send(next, start + next * interval);
    next += 1;
  }
  if (next < total) setTimeout(tick, Math.max(0, Math.min(5, start + next * interval - performance.now())));
};
setTimeout(tick, 50);
