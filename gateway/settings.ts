// Environment reading shared by the gateway's modules: a variable that is unset or blank is absent.
import { readFileSync } from 'node:fs';
import { unifiedGraphHandler } from '@graphql-hive/router-runtime';

export const env = (name: string): string | undefined => {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
};

export const positive = (name: string, fallback: number): number => {
  const value = Number(env(name) ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};

export const list = (name: string, fallback = ''): string[] =>
  (env(name) ?? fallback).split(',').map((item) => item.trim()).filter(Boolean);

export const production = env('FLYWHEEL_ENV') === 'production';

// GATEWAY_RUNTIME: router (the default) plans and executes with Hive Router's query planner and
// executor, stitching with Hive Gateway's own runtime (gateway.config.ts says why). Read here for both
// configs, the gateway's and the benchmarks' bare one (bench.config.ts), so that they always run the
// same runtime. Anything else is refused at startup rather than silently taken for one of the two.
const RUNTIMES = ['router', 'stitching'];
const runtime = env('GATEWAY_RUNTIME') ?? 'router';
if (!RUNTIMES.includes(runtime)) {
  throw new Error(`GATEWAY_RUNTIME must be router or stitching, got "${runtime}"`);
}
export const routerRuntime = runtime === 'router';
// What a gateway config adds to run it (spread into defineConfig).
export const runtimeConfig = routerRuntime ? { unifiedGraphHandler } : {};

// The header the gateway adds to every subgraph request, and the one that tells a subgraph the
// client address the gateway decided on (shared/edge.py reads both). In production every subgraph
// refuses GraphQL without the secret; a development default keeps `make up` working unconfigured.
export const GATEWAY_HEADER = 'x-flywheel-gateway';
export const CLIENT_HEADER = 'x-flywheel-client';
const DEV_GATEWAY_SECRET = 'dev-only-gateway-secret-0123456789abcdef';
export const gatewaySecret = (() => {
  const secret = env('GATEWAY_SECRET') ?? (production ? undefined : DEV_GATEWAY_SECRET);
  if (production && (!secret || secret.length < 32 || secret === DEV_GATEWAY_SECRET)) {
    throw new Error('FLYWHEEL_ENV=production needs GATEWAY_SECRET: 32 characters or more, not the development one');
  }
  return secret as string;
})();

// Subgraph routing overrides: the committed supergraph keeps the localhost URLs from subgraphs.json;
// at run time <NAME>_URL or <NAME>_PORT replace them per subgraph (neither set: the composed URL).
export const subgraphLocations = (): Record<string, { location: string }> => {
  const manifest = JSON.parse(
    readFileSync(new URL('./subgraphs.json', import.meta.url), 'utf8'),
  ) as { subgraphs: { name: string; url: string }[] };
  const entries: Record<string, { location: string }> = {};
  for (const { name } of manifest.subgraphs) {
    const prefix = name.toUpperCase();
    const port = env(`${prefix}_PORT`);
    const location = env(`${prefix}_URL`) ?? (port ? `http://127.0.0.1:${port}/graphql` : undefined);
    if (location) entries[name] = { location };
  }
  return entries;
};

// The caller's credentials, passed on to every subgraph as they came (each subgraph checks them).
export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'x-shop'];
