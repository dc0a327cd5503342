// The operations this client sends. `npm run codegen` checks them against ../../schema.graphql
// and types their results and variables (src/gql/, generated, not committed).
import { graphql } from "./gql";

export const UsersWithOrders = graphql(`
  query UsersWithOrders($first: Int) {
    users(first: $first) {
      nodes {
        id
        name
        email
        orders(first: 20) {
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
