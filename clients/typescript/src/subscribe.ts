// Runs a generated subscription document over a WebSocket (graphql-transport-ws, with the
// graphql-ws client) and yields its typed items. Hand-written; small enough to copy.
import { createClient } from "graphql-ws";

import { RequestFailed, type VariablesArgument } from "./execute.js";
import type { TypedDocumentString } from "./generated/graphql.js";

export interface SocketEndpoint {
  /** The GraphQL endpoint's WebSocket address, e.g. ws://127.0.0.1:8000/graphql */
  url: string;
  /** Sent as connection_init's payload, e.g. { Authorization: `Bearer ${token}` }. */
  connectionParams?: Record<string, string>;
  /** Where there is no global WebSocket (Node 20): e.g. the `ws` package's WebSocket. */
  webSocketImpl?: unknown;
}

/**
 * One WebSocket per call; closed when the loop over the items ends (break, return, throw) or the
 * server completes the subscription. The server ends it with a last item saying why (e.g.
 * SubscriptionEnded with the cursor to resume from); a lost connection throws.
 */
export async function* subscribe<TResult, TVariables>(
  endpoint: SocketEndpoint,
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: VariablesArgument<TVariables>
): AsyncGenerator<TResult, void, undefined> {
  const client = createClient({
    url: endpoint.url,
    connectionParams: endpoint.connectionParams ?? {},
    webSocketImpl: endpoint.webSocketImpl,
    retryAttempts: 0, // resuming is the caller's: it knows the last cursor it processed
  });
  const results = client.iterate<TResult>({
    query: document.toString(),
    variables: (variables ?? {}) as Record<string, unknown>,
  });
  try {
    for await (const result of results) {
      if (result.errors !== undefined || result.data === undefined || result.data === null) {
        throw new RequestFailed(0, (result.errors ?? []).map((e) => ({ ...e })));
      }
      yield result.data;
    }
  } finally {
    await results.return?.();
    await client.dispose();
  }
}
