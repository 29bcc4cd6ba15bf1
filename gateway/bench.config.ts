// Hive Gateway with none of Flywheel's own work: the supergraph, the subgraph URLs and the headers the
// subgraphs need (the gateway's secret and the caller's credential), no plugins, no response cache,
// no limits. Only the benchmarks start it (tests/bench/floor.py), beside the real gateway, to measure
// what planning, calling and merging the subgraphs cost before anything of ours: the floor under
// issue 21's goals. Never serve traffic with it.
import { defineConfig } from '@graphql-hive/gateway';
import {
  CLIENT_HEADER, CREDENTIAL_HEADERS, GATEWAY_HEADER, gatewaySecret, runtimeConfig, subgraphLocations,
} from './settings.ts';

export const gatewayConfig = defineConfig({
  supergraph: './supergraph.graphql',
  transportEntries: subgraphLocations(),
  ...runtimeConfig, // the real gateway's runtime (settings.ts)
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const headers: Record<string, string> = { [GATEWAY_HEADER]: gatewaySecret, [CLIENT_HEADER]: '127.0.0.1' };
      for (const name of CREDENTIAL_HEADERS) {
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
