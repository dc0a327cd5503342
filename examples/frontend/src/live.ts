// Each listed order's status, live: the npm graphql-ws client (graphql-transport-ws, the
// gateway's only WebSocket protocol) on the API's own url with http(s) -> ws(s), the
// signed-in viewer's token in connection_init (a browser cannot set a WebSocket's headers).
// One socket carries every order's `orderUpdated`; a result whose error is EVENTS_MISSED, or
// a socket re-made after a drop, means changes may have been lost: the order is read again.
import { createClient, type Client, type FormattedExecutionResult, type Sink } from "graphql-ws";
import { execute, GatewayError, gatewayError } from "./api";
import type { OrderUpdatedSubscription, TypedDocumentString } from "./gql/graphql";
import { CurrentOrderStatus, OrderUpdated } from "./operations";

export type LiveOrder = OrderUpdatedSubscription["orderUpdated"];

export function webSocketUrl(endpoint: string): string {
  const url = new URL(endpoint, location.href); // "/graphql" is the page's own origin
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

// What ended a subscription: the gateway's error (NOT_FOUND, ...), or the socket's.
function liveError(error: unknown): GatewayError {
  if (Array.isArray(error) && error.length > 0) return gatewayError(error[0]);
  if (error instanceof CloseEvent) {
    return new GatewayError(
      `The live connection closed (${error.code}${error.reason ? ` ${error.reason}` : ""}).`,
      "WEBSOCKET_CLOSED",
    );
  }
  return new GatewayError("Could not open the live connection.", "WEBSOCKET_ERROR");
}

// `operation`'s results, typed as codegen typed it, until the returned function is called.
function subscribe<TResult, TVariables extends Record<string, unknown>>(
  client: Client,
  operation: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  sink: Sink<FormattedExecutionResult<TResult>>,
): () => void {
  return client.subscribe<TResult>({ query: operation.toString(), variables }, sink);
}

export class LiveOrders {
  private readonly client: Client;
  private readonly watched = new Map<number, () => void>(); // order id -> unsubscribe

  constructor(
    private readonly endpoint: string,
    readonly token: string,
    private readonly show: (order: LiveOrder) => void,
    private readonly fail: (error: GatewayError) => void,
  ) {
    this.client = createClient({
      url: webSocketUrl(endpoint),
      connectionParams: { Authorization: `Bearer ${token}` },
      on: {
        connected: (_socket, _payload, wasRetry) => {
          if (wasRetry) for (const id of this.watched.keys()) this.reread(id);
        },
      },
    });
  }

  // Subscribe to each of `ids` not yet watched; stop watching the others.
  watch(ids: readonly number[]): void {
    for (const [id, unsubscribe] of this.watched) {
      if (!ids.includes(id)) {
        unsubscribe();
        this.watched.delete(id);
      }
    }
    for (const id of ids) {
      if (this.watched.has(id)) continue;
      const unsubscribe = subscribe(this.client, OrderUpdated, { id }, {
        next: ({ data, errors }) => {
          const [error] = errors ?? [];
          if (error?.extensions?.code === "EVENTS_MISSED") this.reread(id);
          else if (error !== undefined) this.fail(gatewayError(error));
          else if (data) this.show(data.orderUpdated);
        },
        error: (error) => {
          this.watched.delete(id);
          this.fail(liveError(error));
        },
        complete: () => this.watched.delete(id), // unsubscribed, or the server shut down
      });
      this.watched.set(id, unsubscribe);
    }
  }

  close(): void {
    for (const unsubscribe of this.watched.values()) unsubscribe();
    this.watched.clear();
    void this.client.dispose();
  }

  private reread(id: number): void {
    execute(this.endpoint, CurrentOrderStatus, { id }).then(
      ({ order }) => order && this.show(order),
      (error: unknown) => this.fail(error instanceof GatewayError ? error : liveError(error)),
    );
  }
}
