// Apollo Client 4 as its docs set it up: HttpLink, the persisted-queries link (APQ, SHA-256
// from the browser's crypto), and relayStylePagination merging the pages of `users`.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { CombinedGraphQLErrors } from "@apollo/client/errors";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { relayStylePagination } from "@apollo/client/utilities";
import { filter, firstValueFrom } from "rxjs";
import {
  ME, ORDER_INPUT, PLACE_ORDER, TOO_COSTLY, USERS, codeOf, endpoint, run, show, token,
} from "./shared.js";

async function sha256(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function clientFor(bearer) {
  const http = new HttpLink({
    uri: endpoint,
    headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
  });
  return new ApolloClient({
    link: new PersistedQueryLink({ sha256 }).concat(http),
    cache: new InMemoryCache({
      typePolicies: { Query: { fields: { users: relayStylePagination() } } },
    }),
  });
}

run(async () => {
  const client = clientFor(token);
  const users = gql(USERS);
  // A watched query and fetchMore, as Apollo's pagination docs do it.
  const list = client.watchQuery({ query: users, variables: { first: 2 } });
  const subscription = list.subscribe(() => {});
  const first = await firstValueFrom(list.pipe(filter((result) => !result.loading)));
  const after = first.data.users.pageInfo.endCursor;
  // relayStylePagination merges the next page under the same field; the watched query
  // emits the longer list once the cache has it.
  const longer = firstValueFrom(
    list.pipe(filter((result) => result.data?.users.edges.length > first.data.users.edges.length)),
  );
  await list.fetchMore({ variables: { after } });
  const merged = (await longer).data.users.edges;
  subscription.unsubscribe();
  show("users", merged.map((edge) => edge.node.name).join(", "));

  const placed = await client.mutate({
    mutation: gql(PLACE_ORDER),
    variables: { input: ORDER_INPUT },
  });
  const order = placed.data.placeOrder;
  show("order", `Order #${order.id} for ${order.user.name}: ${order.total}`);

  try {
    await client.query({ query: gql(TOO_COSTLY) });
    show("refusal", "not refused");
  } catch (error) {
    const errors = CombinedGraphQLErrors.is(error) ? error.errors : undefined;
    show("refusal", codeOf(errors, error?.name));
  }

  const anonymous = clientFor(null);
  const me = await anonymous.query({ query: gql(ME) });
  show("csrf", me.data.me === null ? "anonymous POST served" : "signed in?");

  // The same query again, from a new cache: the gateway knows its hash by now.
  const again = await clientFor(token).query({ query: users, variables: { first: 2 } });
  show("again", again.data.users.edges.map((edge) => edge.node.name).join(", "));
});
