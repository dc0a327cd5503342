// urql 6 as its docs set it up: a Client with the persisted exchange (APQ) and the fetch
// exchange; queries go as GET (urql's default, `preferGetMethod: "within-url-limit"`).
import { Client, fetchExchange, gql } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";
import {
  ME, ORDER_INPUT, PLACE_ORDER, TOO_COSTLY, USERS, codeOf, endpoint, run, show, token,
} from "./shared.js";

function clientFor(bearer, fetchOptions = {}) {
  return new Client({
    url: endpoint,
    exchanges: [persistedExchange(), fetchExchange],
    requestPolicy: "network-only",
    fetchOptions: () => ({
      ...fetchOptions,
      headers: { ...(fetchOptions.headers ?? {}), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    }),
  });
}

async function page(client, variables) {
  const result = await client.query(gql(USERS), variables).toPromise();
  if (result.error) throw result.error;
  return result.data.users;
}

run(async () => {
  const client = clientFor(token);
  const first = await page(client, { first: 2 });
  const second = await page(client, { first: 2, after: first.pageInfo.endCursor });
  show("users", [...first.edges, ...second.edges].map((edge) => edge.node.name).join(", "));

  const placed = await client.mutation(gql(PLACE_ORDER), { input: ORDER_INPUT }).toPromise();
  if (placed.error) throw placed.error;
  const order = placed.data.placeOrder;
  show("order", `Order #${order.id} for ${order.user.name}: ${order.total}`);

  const refused = await client.query(gql(TOO_COSTLY), {}).toPromise();
  show("refusal", codeOf(refused.error?.graphQLErrors, refused.error?.message ?? "not refused"));

  // Anonymous, urql's defaults send a GET no browser preflights: refused, saying what to
  // change; with the header the refusal names, it is served.
  const anonymous = await clientFor(null).query(gql(ME), {}).toPromise();
  const preflighted = await clientFor(null, {
    headers: { "apollo-require-preflight": "true" },
  }).query(gql(ME), {}).toPromise();
  const refusal = anonymous.error?.graphQLErrors?.[0];
  show(
    "csrf",
    `${codeOf(anonymous.error?.graphQLErrors, anonymous.error?.message)}: ${refusal?.message}` +
      ` | with the header: ${preflighted.error ? preflighted.error.message : JSON.stringify(preflighted.data)}`,
  );

  const again = await page(clientFor(token), { first: 2 });
  show("again", again.edges.map((edge) => edge.node.name).join(", "));
});
