// The operations this client sends. `npm run codegen` checks them against ../../schema.graphql
// and types their results and variables (src/gql/, generated, not committed).
import { graphql } from "./gql";

// Pages small enough for the gateway's cost limit (5,000 values): 5 users x 5 orders x up to
// 50 line items costs 3,907; 20 x 20 would cost 62,122 and be refused (QUERY_TOO_COSTLY).
export const UsersWithOrders = graphql(`
  query UsersWithOrders($first: Int) {
    users(first: $first) {
      nodes {
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
    }
  }
`);

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

export const Me = graphql(`
  query Me {
    me {
      id
      name
    }
  }
`);
