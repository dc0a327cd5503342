// The operations this client sends. `npm run codegen` checks them against ../../schema.graphql
// and types their results and variables (src/gql/, generated, not committed).
import { graphql } from "./gql";

// What the page shows of a user. `email` and `orders` are for that user and admins only (null
// with FORBIDDEN for anyone else); an admin lists every user, a user sees only their own.
export const UserSection = graphql(`
  fragment UserSection on User {
    id
    name
    email
    orders(first: 5) {
      nodes {
        id
        status
        total
        items {
          sku
          quantity
        }
      }
    }
  }
`);

// Pages small enough for the gateway's cost limit (5,000 values): 5 users x 5 orders x up to
// 50 line items costs 3,907; 20 x 20 would cost 62,122 and be refused (QUERY_TOO_COSTLY).
// `users` is for admins: null with FORBIDDEN for anyone else.
export const UsersWithOrders = graphql(`
  query UsersWithOrders($first: Int) {
    users(first: $first) {
      nodes {
        ...UserSection
      }
    }
  }
`);

// The signed-in user (null when anonymous), with their own orders.
export const Me = graphql(`
  query Me {
    me {
      ...UserSection
    }
  }
`);

// For the signed-in user (admins for anyone); null with FORBIDDEN otherwise.
export const PlaceOrder = graphql(`
  mutation PlaceOrder($input: PlaceOrderInput!) {
    placeOrder(input: $input) {
      id
      status
      total
      user {
        name
      }
    }
  }
`);

// Every committed change of one order, over WebSocket (src/live.ts): the viewer's own order,
// any for an admin. A result whose error is EVENTS_MISSED means changes may have been lost.
export const OrderUpdated = graphql(`
  subscription OrderUpdated($id: Int!) {
    orderUpdated(id: $id) {
      id
      status
    }
  }
`);

// One order's status read again: after EVENTS_MISSED, or when the socket was re-made.
export const CurrentOrderStatus = graphql(`
  query CurrentOrderStatus($id: Int!) {
    order(id: $id) {
      id
      status
    }
  }
`);
