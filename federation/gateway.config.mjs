// Hive Gateway's configuration: the supergraph file is given on the command line
// (`hive-gateway supergraph supergraph.graphql`), by gateway.federation.cluster.
import { defineConfig } from "@graphql-hive/gateway";

export const gatewayConfig = defineConfig({
  // The subgraphs verify the bearer token themselves, each with the service's own rules:
  // every fetch carries the client's Authorization header.
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const authorization = request.headers.get("authorization");
      return authorization ? { authorization } : {};
    },
  },
  // Subgraph errors keep their extensions.code; the router adds no stack traces.
  maskedErrors: true,
  // The supergraph is a local file, composed at startup (Hive Gateway watches it): no
  // registry to poll.
  pollingInterval: 0,
});
