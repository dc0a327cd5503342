// What both pages share: the page's parameters, its operations, and how it shows results.
export const params = new URLSearchParams(location.search);
export const endpoint = params.get("endpoint");
export const token = params.get("token");

export const USERS = `
  query UsersPage($first: Int!, $after: String) {
    users(first: $first, after: $after) {
      edges { cursor node { id name } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
export const PLACE_ORDER = `
  mutation PlaceOrder($input: PlaceOrderInput!) {
    placeOrder(input: $input) { id total user { name } }
  }
`;
// More than the cost limit allows: refused before it runs (QUERY_TOO_COSTLY).
export const TOO_COSTLY = `
  query TooCostly {
    users(first: 100) { edges { node { orders(first: 100) { nodes { items { sku } } } } } }
  }
`;
export const ME = `query Me { me { id } }`;
export const ORDER_INPUT = {
  userId: 1,
  items: [{ sku: "MUG-042", quantity: 1, unitPrice: "7.25" }],
};

export function show(id, text) {
  document.getElementById(id).textContent = text;
}

// The code of a GraphQL error as the client hands it over, or how the client failed.
export function codeOf(errors, fallback) {
  const code = errors?.[0]?.extensions?.code;
  return code ?? `no GraphQL error code (${fallback})`;
}

export async function run(steps) {
  try {
    await steps();
    show("done", "done");
  } catch (error) {
    show("problem", `${error?.name}: ${error?.message}\n${error?.stack}`);
  }
}
