// The graphql-ws client as its README sets it up in Node (ws as the WebSocket), the token
// in connectionParams. Usage: node client.mjs <ws url> <token> <order id>
// Prints one JSON line per event: {"connected": true}, then each result, then {"closed": code}.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, orderId] = process.argv.slice(2);
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: {
    connected: () => print({ connected: true }),
    closed: (event) => print({ closed: event.code }),
  },
});

const results = client.iterate({
  query: "subscription ($id: Int!) { orderUpdated(id: $id) { id status } }",
  variables: { id: Number(orderId) },
});
try {
  for await (const result of results) {
    print(result);
    if (result.data?.orderUpdated?.status === "PAID") break;
  }
} catch (error) {
  print({ error: String(error?.code ?? error?.message ?? error) });
}
await client.dispose();
