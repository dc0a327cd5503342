// Signs in with a bearer token, lists what the viewer may see (an admin: every user; a user:
// their own account) with the orders, each order's status kept live (src/live.ts), and
// places an order through the form.
import { currentToken, execute, GatewayError, signIn, signOut } from "./api";
import type { UserSectionFragment } from "./gql/graphql";
import { LiveOrders, type LiveOrder } from "./live";
import { Me, PlaceOrder, UsersWithOrders } from "./operations";

declare const GATEWAY_URL: string; // set at build time by build.mjs

type User = UserSectionFragment;

const endpoint = new URLSearchParams(location.search).get("endpoint") ?? GATEWAY_URL;
const form = document.querySelector<HTMLFormElement>("#place-order")!;
const customer = form.querySelector<HTMLSelectElement>("select[name=userId]")!;
const usersView = document.querySelector<HTMLElement>("#users")!;
const statusView = document.querySelector<HTMLElement>("#status")!;
const errorView = document.querySelector<HTMLElement>("#error")!;
const signInForm = document.querySelector<HTMLFormElement>("#sign-in")!;
const viewerView = document.querySelector<HTMLElement>("#viewer")!;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string>,
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children); // text, never HTML
  return node;
}

function renderUsers(users: readonly User[]): void {
  usersView.replaceChildren(
    ...users.map((user) =>
      element(
        "section",
        { class: "user", "aria-label": user.name, "data-user-id": String(user.id) },
        element("h3", {}, user.name, " ", element("span", { class: "email" }, user.email ?? "")),
        element(
          "ul",
          { class: "orders" },
          ...(user.orders?.nodes ?? []).map((order) =>
            element(
              "li",
              { "data-order-id": String(order.id) },
              `#${order.id} `,
              element("span", { class: `status status-${order.status}` }, order.status),
              ` ${order.total} — `,
              order.items.map((item) => `${item.sku} (${item.quantity})`).join(", "),
            ),
          ),
        ),
      ),
    ),
  );
  const selected = customer.value;
  customer.replaceChildren(
    ...users.map((user) => element("option", { value: String(user.id) }, user.name)),
  );
  if (selected) customer.value = selected;
}

function showStatus(order: LiveOrder): void {
  for (const status of usersView.querySelectorAll(`li[data-order-id="${order.id}"] .status`)) {
    status.className = `status status-${order.status}`;
    status.textContent = order.status;
  }
}

function showError(error: unknown): void {
  errorView.textContent =
    error instanceof GatewayError
      ? `${error.message} (${error.code}${error.correlationId ? `, ${error.correlationId}` : ""})`
      : `Could not reach the gateway at ${endpoint}: ${String(error)}`;
}

let viewer: User | null = null; // the signed-in user, from `me`
let live: LiveOrders | null = null; // one WebSocket for the signed-in token's orders

// Keep the listed orders' statuses live, over a socket of the current token's.
function watchListedOrders(): void {
  const token = currentToken();
  if (live !== null && (viewer === null || live.token !== token)) {
    live.close();
    live = null;
  }
  if (viewer === null || token === null) return;
  live ??= new LiveOrders(endpoint, token, showStatus, showError);
  const listed = usersView.querySelectorAll<HTMLElement>("li[data-order-id]");
  live.watch([...listed].map((order) => Number(order.dataset.orderId)));
}

async function showViewer(): Promise<void> {
  const { me } = await execute(endpoint, Me, {});
  viewer = me ?? null;
  viewerView.textContent = viewer ? `Signed in as ${viewer.name}` : "Not signed in";
}

// An admin sees every user; anyone else is refused the list (FORBIDDEN) and sees their own.
async function refresh(): Promise<void> {
  if (viewer === null) {
    watchListedOrders(); // none
    customer.replaceChildren();
    usersView.textContent = "Sign in to see your orders.";
    return;
  }
  try {
    const { users } = await execute(endpoint, UsersWithOrders, { first: 5 });
    renderUsers(users?.nodes ?? []);
  } catch (error) {
    if (!(error instanceof GatewayError && error.code === "FORBIDDEN")) throw error;
    renderUsers([viewer]);
  }
  watchListedOrders();
}

signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorView.textContent = "";
  signIn(String(new FormData(signInForm).get("token")));
  try {
    await showViewer();
  } catch (error) {
    signOut(); // a refused token is not kept
    viewer = null;
    viewerView.textContent = "Not signed in";
    showError(error);
  }
  await refresh().catch(showError);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const fields = new FormData(form);
  statusView.textContent = "";
  errorView.textContent = "";
  try {
    const { placeOrder } = await execute(endpoint, PlaceOrder, {
      input: {
        userId: Number(fields.get("userId")),
        items: [
          {
            sku: String(fields.get("sku")),
            quantity: Number(fields.get("quantity")),
            unitPrice: String(fields.get("unitPrice")),
          },
        ],
      },
    });
    if (placeOrder) {
      statusView.textContent =
        `Order #${placeOrder.id} placed for ${placeOrder.user?.name ?? "?"}: ` +
        `${placeOrder.total} (${placeOrder.status})`;
    }
    await refresh();
  } catch (error) {
    showError(error);
  }
});

showViewer()
  .then(refresh)
  .catch(showError);
