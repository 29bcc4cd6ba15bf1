// Hive Gateway with none of Flywheel's own work: the supergraph, the subgraph URLs and the headers the
// subgraphs need (the gateway's secret and the caller's credential), no plugins, no response cache,
// no limits. Only the benchmarks start it (tests/bench/floor.py), beside the real gateway, to measure
// what planning, calling and merging the subgraphs cost before anything of ours: the floor under
// issue 21's goals. Never serve traffic with it.
import { readFileSync } from 'node:fs';
import { defineConfig } from '@graphql-hive/gateway';
import { CLIENT_HEADER, env, GATEWAY_HEADER, gatewaySecret } from './settings.ts';

const manifest = JSON.parse(
  readFileSync(new URL('./subgraphs.json', import.meta.url), 'utf8'),
) as { subgraphs: { name: string }[] };
const transportEntries: Record<string, { location: string }> = {};
for (const { name } of manifest.subgraphs) {
  const port = env(`${name.toUpperCase()}_PORT`);
  if (port) transportEntries[name] = { location: `http://127.0.0.1:${port}/graphql` };
}

export const gatewayConfig = defineConfig({
  supergraph: './supergraph.graphql',
  transportEntries,
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const headers: Record<string, string> = { [GATEWAY_HEADER]: gatewaySecret, [CLIENT_HEADER]: '127.0.0.1' };
      for (const name of ['authorization', 'x-api-key', 'x-shop']) {
        const value = request.headers.get(name);
        if (value) headers[name] = value;
      }
      return headers;
    },
  },
  graphqlEndpoint: '/graphql',
  graphiql: false,
  landingPage: false,
  disableWebsockets: true,
});
