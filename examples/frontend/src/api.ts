// Send one typed operation to the gateway. Each operation goes by its sha256 first (a persisted
// operation: codegen's persisted-documents.json is the gateway's allow-list); a gateway that
// does not know the hash gets the document itself. GraphQL errors become a GatewayError with
// the gateway's stable extensions.code (BAD_USER_INPUT, NOT_FOUND, UNAUTHENTICATED, ...).
// A bearer token, once signed in, goes with every request (Authorization: Bearer ...).
import type { TypedDocumentString } from "./gql/graphql";

interface GraphQLError {
  message: string;
  extensions?: { code?: string; correlationId?: string };
}

interface GraphQLResponse<TResult> {
  data?: TResult | null;
  errors?: GraphQLError[];
}

// What a gateway answers to a hash it cannot run by hash alone: APQ without this client's
// manifest, or persisted operations turned off.
const SEND_THE_DOCUMENT = new Set(["PERSISTED_QUERY_NOT_FOUND", "PERSISTED_QUERY_NOT_SUPPORTED"]);

export class GatewayError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly correlationId?: string,
  ) {
    super(message);
    this.name = "GatewayError";
  }
}

// A GraphQL error of an answer, over HTTP or over the WebSocket (src/live.ts).
export function gatewayError({
  message,
  extensions,
}: {
  readonly message: string;
  readonly extensions?: Readonly<Record<string, unknown>>;
}): GatewayError {
  const { code, correlationId } = extensions ?? {};
  return new GatewayError(
    message,
    typeof code === "string" ? code : "UNKNOWN",
    typeof correlationId === "string" ? correlationId : undefined,
  );
}

// Kept for this tab only: a development token (`gateway token --sub 1`), or one your
// identity provider issued.
const TOKEN_KEY = "gateway-token";

export function signIn(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

// The signed-in token, or null; src/live.ts sends it in connection_init.
export function currentToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function post<TResult>(
  endpoint: string,
  body: Record<string, unknown>,
): Promise<[Response, GraphQLResponse<TResult>]> {
  // application/json is not a "simple" content type: the gateway's CSRF prevention lets it
  // through, and a browser on another origin asks (CORS preflight) before sending it.
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json",
  };
  const token = currentToken();
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(endpoint, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  return [response, (await response.json()) as GraphQLResponse<TResult>];
}

export async function execute<TResult, TVariables>(
  endpoint: string,
  operation: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
): Promise<TResult> {
  const hash: unknown = operation.__meta__?.hash;
  let [response, body] =
    typeof hash === "string"
      ? await post<TResult>(endpoint, {
          variables,
          extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
        })
      : [undefined, undefined];
  if (body === undefined || SEND_THE_DOCUMENT.has(body.errors?.[0]?.extensions?.code ?? "")) {
    [response, body] = await post<TResult>(endpoint, { query: operation.toString(), variables });
  }
  const [error] = body.errors ?? [];
  if (error !== undefined) throw gatewayError(error);
  if (!response?.ok || body.data == null) {
    throw new GatewayError(`The gateway answered HTTP ${response?.status}.`, "HTTP_ERROR");
  }
  return body.data;
}
