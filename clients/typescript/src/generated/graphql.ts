/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** Stable, machine-readable error codes. */
export type ErrorCode =
  | 'BALANCE_LIMIT_EXCEEDED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'INSUFFICIENT_FUNDS'
  | 'INVALID_INPUT'
  | 'LOGIN_TAKEN'
  | 'OUTCOME_UNKNOWN'
  | 'PERMISSION_DENIED'
  | 'SERVICE_UNAVAILABLE'
  | 'TRY_AGAIN'
  | 'WALLET_NOT_FOUND';

/** What an operation did to its wallet. */
export type OperationKind =
  | 'RESUPPLY'
  | 'TRANSFER_IN'
  | 'TRANSFER_OUT';

export type TransactionKind =
  | 'RESUPPLY'
  | 'TRANSFER';

export type BalanceAtQueryVariables = Exact<{
  id: string | number;
  time: string;
}>;


export type BalanceAtQuery = { wallet: { id: string, balanceAt: string | null } | null };

export type ClientQueryVariables = Exact<{
  id: string | number;
}>;


export type ClientQuery = { client: { id: string, login: string, name: string, wallets: Array<{ id: string, balance: string }> } | null };

export type CreateClientMutationVariables = Exact<{
  login: string;
  name: string;
  idempotencyKey?: string | null | undefined;
}>;


export type CreateClientMutation = { createClient:
    | { __typename: 'CreateClientSuccess', replayed: boolean, client: { id: string, login: string, name: string }, wallet: { id: string, balance: string } }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'LoginTaken', code: ErrorCode, message: string, login: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
   };

export type LedgerSummaryQueryVariables = Exact<{ [key: string]: never; }>;


export type LedgerSummaryQuery = { ledgerSummary: { wallets: number, totalBalance: string, totalResupplied: string } | null };

export type ResupplyMutationVariables = Exact<{
  walletId: string | number;
  amount: string;
  reference?: string | null | undefined;
  idempotencyKey?: string | null | undefined;
}>;


export type ResupplyMutation = { resupply:
    | { __typename: 'BalanceLimitExceeded', code: ErrorCode, message: string, walletId: string, limit: string }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ResupplySuccess', walletId: string, amount: string, transactionNumber: string, walletBalance: string, reference: string | null, replayed: boolean }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
    | { __typename: 'WalletNotFound', code: ErrorCode, message: string, walletId: string }
   };

export type TransactionQueryVariables = Exact<{
  number: string;
}>;


export type TransactionQuery = { transaction: { number: string, kind: TransactionKind, amount: string, reference: string | null, createdAt: string, legs: Array<{ id: string, kind: OperationKind, amount: string, balanceAfter: string, counterpartyWalletId: string | null, wallet: { id: string } }> } | null };

export type TransferMutationVariables = Exact<{
  walletFromId: string | number;
  walletToId: string | number;
  amount: string;
  reference?: string | null | undefined;
  idempotencyKey?: string | null | undefined;
}>;


export type TransferMutation = { transfer:
    | { __typename: 'BalanceLimitExceeded', code: ErrorCode, message: string, walletId: string, limit: string }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InsufficientFunds', code: ErrorCode, message: string, walletId: string, balance: string, requested: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TransferSuccess', walletFromId: string, walletToId: string, amount: string, transactionNumber: string, walletFromBalance: string, walletToBalance: string | null, reference: string | null, replayed: boolean }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
    | { __typename: 'WalletNotFound', code: ErrorCode, message: string, walletId: string }
   };

export type WalletQueryVariables = Exact<{
  id: string | number;
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
  since?: string | null | undefined;
  until?: string | null | undefined;
}>;


export type WalletQuery = { wallet: { id: string, balance: string, client: { id: string, login: string }, operations: { edges: Array<{ cursor: string, node: { id: string, transactionNumber: string, kind: OperationKind, amount: string, balanceAfter: string, reference: string | null, counterpartyWalletId: string | null, createdAt: string } }>, pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null } } } | null };

export type WalletsQueryVariables = Exact<{
  ids: Array<string | number> | string | number;
}>;


export type WalletsQuery = { wallets: Array<{ id: string, balance: string } | null> };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const BalanceAtDocument = new TypedDocumentString(`
    query BalanceAt($id: ID!, $time: DateTime!) {
  wallet(id: $id) {
    id
    balanceAt(time: $time)
  }
}
    `) as unknown as TypedDocumentString<BalanceAtQuery, BalanceAtQueryVariables>;
export const ClientDocument = new TypedDocumentString(`
    query Client($id: ID!) {
  client(id: $id) {
    id
    login
    name
    wallets {
      id
      balance
    }
  }
}
    `) as unknown as TypedDocumentString<ClientQuery, ClientQueryVariables>;
export const CreateClientDocument = new TypedDocumentString(`
    mutation CreateClient($login: String!, $name: String!, $idempotencyKey: String) {
  createClient(
    input: {login: $login, name: $name, idempotencyKey: $idempotencyKey}
  ) {
    __typename
    ... on CreateClientSuccess {
      client {
        id
        login
        name
      }
      wallet {
        id
        balance
      }
      replayed
    }
    ... on Error {
      code
      message
    }
    ... on InvalidInput {
      field
    }
    ... on LoginTaken {
      login
    }
    ... on IdempotencyKeyReused {
      idempotencyKey
    }
    ... on PermissionDenied {
      operation
    }
  }
}
    `) as unknown as TypedDocumentString<CreateClientMutation, CreateClientMutationVariables>;
export const LedgerSummaryDocument = new TypedDocumentString(`
    query LedgerSummary {
  ledgerSummary {
    wallets
    totalBalance
    totalResupplied
  }
}
    `) as unknown as TypedDocumentString<LedgerSummaryQuery, LedgerSummaryQueryVariables>;
export const ResupplyDocument = new TypedDocumentString(`
    mutation Resupply($walletId: ID!, $amount: Money!, $reference: String, $idempotencyKey: String) {
  resupply(
    input: {walletId: $walletId, amount: $amount, reference: $reference, idempotencyKey: $idempotencyKey}
  ) {
    __typename
    ... on ResupplySuccess {
      walletId
      amount
      transactionNumber
      walletBalance
      reference
      replayed
    }
    ... on Error {
      code
      message
    }
    ... on InvalidInput {
      field
    }
    ... on WalletNotFound {
      walletId
    }
    ... on BalanceLimitExceeded {
      walletId
      limit
    }
    ... on IdempotencyKeyReused {
      idempotencyKey
    }
    ... on PermissionDenied {
      operation
    }
  }
}
    `) as unknown as TypedDocumentString<ResupplyMutation, ResupplyMutationVariables>;
export const TransactionDocument = new TypedDocumentString(`
    query Transaction($number: UUID!) {
  transaction(number: $number) {
    number
    kind
    amount
    reference
    createdAt
    legs {
      id
      kind
      amount
      balanceAfter
      wallet {
        id
      }
      counterpartyWalletId
    }
  }
}
    `) as unknown as TypedDocumentString<TransactionQuery, TransactionQueryVariables>;
export const TransferDocument = new TypedDocumentString(`
    mutation Transfer($walletFromId: ID!, $walletToId: ID!, $amount: Money!, $reference: String, $idempotencyKey: String) {
  transfer(
    input: {walletFromId: $walletFromId, walletToId: $walletToId, amount: $amount, reference: $reference, idempotencyKey: $idempotencyKey}
  ) {
    __typename
    ... on TransferSuccess {
      walletFromId
      walletToId
      amount
      transactionNumber
      walletFromBalance
      walletToBalance
      reference
      replayed
    }
    ... on Error {
      code
      message
    }
    ... on InvalidInput {
      field
    }
    ... on WalletNotFound {
      walletId
    }
    ... on InsufficientFunds {
      walletId
      balance
      requested
    }
    ... on BalanceLimitExceeded {
      walletId
      limit
    }
    ... on IdempotencyKeyReused {
      idempotencyKey
    }
    ... on PermissionDenied {
      operation
    }
  }
}
    `) as unknown as TypedDocumentString<TransferMutation, TransferMutationVariables>;
export const WalletDocument = new TypedDocumentString(`
    query Wallet($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $since: DateTime, $until: DateTime) {
  wallet(id: $id) {
    id
    balance
    client {
      id
      login
    }
    operations(
      first: $first
      after: $after
      last: $last
      before: $before
      since: $since
      until: $until
    ) {
      edges {
        cursor
        node {
          id
          transactionNumber
          kind
          amount
          balanceAfter
          reference
          counterpartyWalletId
          createdAt
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
}
    `) as unknown as TypedDocumentString<WalletQuery, WalletQueryVariables>;
export const WalletsDocument = new TypedDocumentString(`
    query Wallets($ids: [ID!]!) {
  wallets(ids: $ids) {
    id
    balance
  }
}
    `) as unknown as TypedDocumentString<WalletsQuery, WalletsQueryVariables>;