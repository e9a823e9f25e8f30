// Sends a generated document with fetch and returns its typed data. Hand-written; small enough
// to copy into a frontend that has its own HTTP layer.
import type { TypedDocumentString } from "./generated/graphql.js";

export interface Endpoint {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:8000/graphql */
  url: string;
  /** Sent with every request, e.g. { Authorization: `Bearer ${token}` }. */
  headers?: Record<string, string>;
}

export interface GraphQLErrorEntry {
  message: string;
  extensions?: { code?: string } & Record<string, unknown>;
}

/** A request the API did not execute: an HTTP error, or GraphQL errors instead of data. */
export class RequestFailed extends Error {
  constructor(
    readonly status: number,
    readonly errors: GraphQLErrorEntry[],
  ) {
    super(`GraphQL request failed (HTTP ${status}): ${errors.map((e) => e.message).join("; ")}`);
    this.name = "RequestFailed";
  }
}

/** Documents without variables take none; the others require theirs, typed. */
export type VariablesArgument<TVariables> =
  TVariables extends Record<string, never> ? [] : [variables: TVariables];

export async function execute<TResult, TVariables>(
  endpoint: Endpoint,
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: VariablesArgument<TVariables>
): Promise<TResult> {
  const response = await fetch(endpoint.url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      ...endpoint.headers,
    },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const body = (await response.json()) as { data?: TResult; errors?: GraphQLErrorEntry[] };
  if (!response.ok || body.errors !== undefined || body.data === undefined) {
    throw new RequestFailed(response.status, body.errors ?? []);
  }
  return body.data;
}
