/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** Stable, machine-readable error codes. */
export type ErrorCode =
  | 'BALANCE_LIMIT_EXCEEDED'
  | 'CLIENT_NOT_FOUND'
  | 'CURRENCY_EXISTS'
  | 'CURRENCY_MISMATCH'
  | 'HOLD_EXPIRED'
  | 'HOLD_NOT_FOUND'
  | 'HOLD_NOT_PENDING'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'INSUFFICIENT_FUNDS'
  | 'INVALID_INPUT'
  | 'LOGIN_TAKEN'
  | 'OUTCOME_UNKNOWN'
  | 'PERMISSION_DENIED'
  | 'REFUND_EXCEEDS_REMAINING'
  | 'SERVICE_UNAVAILABLE'
  | 'TRANSACTION_NOT_FOUND'
  | 'TRY_AGAIN'
  | 'WALLET_NOT_FOUND'
  | 'WEBHOOK_DELIVERY_NOT_FOUND'
  | 'WEBHOOK_ENDPOINT_NOT_FOUND';

/** Where a hold stands. */
export type HoldStatus =
  | 'CAPTURED'
  | 'EXPIRED'
  | 'PENDING'
  | 'VOIDED';

/** What an operation did to its wallet. */
export type OperationKind =
  | 'CAPTURE_IN'
  | 'CAPTURE_OUT'
  | 'REFUND_IN'
  | 'REFUND_OUT'
  | 'RESUPPLY'
  | 'TRANSFER_IN'
  | 'TRANSFER_OUT'
  | 'WITHDRAWAL';

export type SplitLegInput = {
  /** Greater than 0, at most 10^15, with at most the currency's decimals. */
  amount: string;
  /** Optional free text up to 255 characters, e.g. an order id. */
  reference?: string | null | undefined;
  /** Differs from walletFromId and from every other leg's. */
  walletToId: string | number;
};

/** Why the server ended a subscription. */
export type SubscriptionEndReason =
  /** The server is stopping. */
  | 'SHUTTING_DOWN'
  /** Events arrived faster than they could be sent: too many were waiting. */
  | 'SLOW_CONSUMER'
  /** The token was revoked. */
  | 'TOKEN_REVOKED'
  /** The token holds as many subscriptions as a server allows it. */
  | 'TOO_MANY_SUBSCRIPTIONS'
  /** The database is unavailable. */
  | 'UNAVAILABLE';

/** Every condition given must hold. */
export type TransactionFilter = {
  kind?: TransactionKind | null | undefined;
  /** Transactions whose metadata holds all these keys and values. */
  metadata?: Record<string, string> | null | undefined;
  reference?: string | null | undefined;
  /** Created at or after. */
  since?: string | null | undefined;
  /** Created before. */
  until?: string | null | undefined;
};

/** What a transaction did. HOLD and VOID move no balance (they change what is held), so they have no legs; a SPLIT pays several wallets from one. */
export type TransactionKind =
  | 'CAPTURE'
  | 'HOLD'
  | 'REFUND'
  | 'RESUPPLY'
  | 'SPLIT'
  | 'TRANSFER'
  | 'VOID'
  | 'WITHDRAWAL';

/** What changed a wallet. */
export type WalletEventKind =
  | 'CAPTURE'
  | 'HOLD'
  | 'HOLD_EXPIRED'
  | 'REFUND'
  | 'RESUPPLY'
  | 'SPLIT'
  | 'TRANSFER'
  | 'VOID'
  | 'WITHDRAWAL';

export type BalanceAtQueryVariables = Exact<{
  id: string | number;
  time: string;
}>;


export type BalanceAtQuery = { wallet: { id: string, balanceAt: string | null } | null };

export type CaptureHoldMutationVariables = Exact<{
  holdId: string | number;
  amount?: string | null | undefined;
  idempotencyKey?: string | null | undefined;
  dryRun?: boolean | null | undefined;
}>;


export type CaptureHoldMutation = { captureHold:
    | { __typename: 'BalanceLimitExceeded', code: ErrorCode, message: string, walletId: string, limit: string }
    | { __typename: 'CaptureHoldSuccess', amount: string, transactionNumber: string, dryRun: boolean, replayed: boolean, hold: { id: string, status: HoldStatus, amount: string, capturedAmount: string | null, resolvedAt: string | null }, walletFrom: { id: string, balance: string, held: string, available: string }, walletTo: { id: string, balance: string, held: string, available: string } | null }
    | { __typename: 'HoldExpired', code: ErrorCode, message: string, holdId: string }
    | { __typename: 'HoldNotFound', code: ErrorCode, message: string, holdId: string }
    | { __typename: 'HoldNotPending', code: ErrorCode, message: string, holdId: string, holdStatus: string }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InsufficientFunds', code: ErrorCode, message: string, walletId: string, balance: string, available: string, requested: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
   };

export type ClientQueryVariables = Exact<{
  id: string | number;
}>;


export type ClientQuery = { client: { id: string, login: string, name: string, wallets: Array<{ id: string, balance: string }> } | null };

export type CreateClientMutationVariables = Exact<{
  login: string;
  name: string;
  idempotencyKey?: string | null | undefined;
  currency?: string | null | undefined;
}>;


export type CreateClientMutation = { createClient:
    | { __typename: 'CreateClientSuccess', replayed: boolean, client: { id: string, login: string, name: string }, wallet: { id: string, currency: string, balance: string } }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'LoginTaken', code: ErrorCode, message: string, login: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
   };

export type CreateWalletMutationVariables = Exact<{
  clientId: string | number;
  currency: string;
  idempotencyKey?: string | null | undefined;
}>;


export type CreateWalletMutation = { createWallet:
    | { __typename: 'ClientNotFound', code: ErrorCode, message: string, clientId: string }
    | { __typename: 'CreateWalletSuccess', replayed: boolean, wallet: { id: string, currency: string, balance: string, held: string, available: string, client: { id: string } } }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
   };

export type HoldQueryVariables = Exact<{
  id: string | number;
}>;


export type HoldQuery = { hold: { id: string, status: HoldStatus, currency: string, amount: string, capturedAmount: string | null, expiresAt: string, walletFromId: string, walletToId: string, reference: string | null, metadata: Record<string, string>, createdAt: string, resolvedAt: string | null, walletFrom: { id: string, balance: string, held: string, available: string } | null, walletTo: { id: string, balance: string, held: string, available: string } | null, transactions: Array<{ number: string, kind: TransactionKind, amount: string, createdAt: string }> } | null };

export type HoldTransferMutationVariables = Exact<{
  walletFromId: string | number;
  walletToId: string | number;
  amount: string;
  expiresAt?: string | null | undefined;
  reference?: string | null | undefined;
  metadata?: Record<string, string> | null | undefined;
  idempotencyKey?: string | null | undefined;
  dryRun?: boolean | null | undefined;
}>;


export type HoldTransferMutation = { holdTransfer:
    | { __typename: 'CurrencyMismatch', code: ErrorCode, message: string, walletId: string, currency: string, expected: string }
    | { __typename: 'HoldTransferSuccess', amount: string, expiresAt: string, transactionNumber: string, dryRun: boolean, replayed: boolean, hold: { id: string, status: HoldStatus, currency: string, amount: string, expiresAt: string, walletFromId: string, walletToId: string, reference: string | null, metadata: Record<string, string>, createdAt: string } | null, walletFrom: { id: string, currency: string, balance: string, held: string, available: string } }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InsufficientFunds', code: ErrorCode, message: string, walletId: string, balance: string, available: string, requested: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
    | { __typename: 'WalletNotFound', code: ErrorCode, message: string, walletId: string }
   };

export type LedgerSummaryQueryVariables = Exact<{ [key: string]: never; }>;


export type LedgerSummaryQuery = { ledgerSummary: { wallets: number, totalBalance: string, totalResupplied: string, currencies: Array<{ currency: string, totalBalance: string, totalHeld: string, totalResupplied: string, totalWithdrawn: string }> } | null };

export type RefundMutationVariables = Exact<{
  transactionNumber: string;
  amount?: string | null | undefined;
  reference?: string | null | undefined;
  metadata?: Record<string, string> | null | undefined;
  idempotencyKey?: string | null | undefined;
  dryRun?: boolean | null | undefined;
}>;


export type RefundMutation = { refund:
    | { __typename: 'BalanceLimitExceeded', code: ErrorCode, message: string, walletId: string, limit: string }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InsufficientFunds', code: ErrorCode, message: string, walletId: string, balance: string, available: string, requested: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'RefundExceedsRemaining', code: ErrorCode, message: string, transactionNumber: string, remaining: string, requested: string }
    | { __typename: 'RefundSuccess', transactionNumber: string, refundOf: string, amount: string, remaining: string, reference: string | null, metadata: Record<string, string>, dryRun: boolean, replayed: boolean, walletTo: { id: string, balance: string, held: string, available: string } | null, walletsFrom: Array<{ walletId: string, amount: string, wallet: { id: string, balance: string, held: string, available: string } | null }> }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TransactionNotFound', code: ErrorCode, message: string, transactionNumber: string }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
   };

export type ResupplyMutationVariables = Exact<{
  walletId: string | number;
  amount: string;
  reference?: string | null | undefined;
  metadata?: Record<string, string> | null | undefined;
  idempotencyKey?: string | null | undefined;
  dryRun?: boolean | null | undefined;
}>;


export type ResupplyMutation = { resupply:
    | { __typename: 'BalanceLimitExceeded', code: ErrorCode, message: string, walletId: string, limit: string }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ResupplySuccess', walletId: string, amount: string, transactionNumber: string, walletBalance: string, reference: string | null, metadata: Record<string, string>, dryRun: boolean, replayed: boolean }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
    | { __typename: 'WalletNotFound', code: ErrorCode, message: string, walletId: string }
   };

export type SplitTransferMutationVariables = Exact<{
  walletFromId: string | number;
  legs: Array<SplitLegInput> | SplitLegInput;
  reference?: string | null | undefined;
  metadata?: Record<string, string> | null | undefined;
  idempotencyKey?: string | null | undefined;
  dryRun?: boolean | null | undefined;
}>;


export type SplitTransferMutation = { splitTransfer:
    | { __typename: 'BalanceLimitExceeded', code: ErrorCode, message: string, walletId: string, limit: string }
    | { __typename: 'CurrencyMismatch', code: ErrorCode, message: string, walletId: string, currency: string, expected: string }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InsufficientFunds', code: ErrorCode, message: string, walletId: string, balance: string, available: string, requested: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'SplitTransferSuccess', transactionNumber: string, amount: string, walletFromBalance: string, reference: string | null, metadata: Record<string, string>, dryRun: boolean, replayed: boolean, walletFrom: { id: string, balance: string, held: string, available: string }, legs: Array<{ walletToId: string, amount: string, reference: string | null, walletTo: { id: string, balance: string } | null }> }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
    | { __typename: 'WalletNotFound', code: ErrorCode, message: string, walletId: string }
   };

export type TransactionQueryVariables = Exact<{
  number: string;
}>;


export type TransactionQuery = { transaction: { number: string, kind: TransactionKind, currency: string, amount: string, reference: string | null, metadata: Record<string, string>, createdAt: string, refundable: string, refundOf: { number: string } | null, refunds: Array<{ number: string, amount: string }>, hold: { id: string, status: HoldStatus } | null, legs: Array<{ id: string, kind: OperationKind, amount: string, balanceAfter: string, counterpartyWalletId: string | null, wallet: { id: string } }> } | null };

export type TransactionsQueryVariables = Exact<{
  filter?: TransactionFilter | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type TransactionsQuery = { transactions: { edges: Array<{ cursor: string, node: { number: string, kind: TransactionKind, currency: string, amount: string, reference: string | null, metadata: Record<string, string>, createdAt: string, refundable: string, refundOf: { number: string } | null, refunds: Array<{ number: string, amount: string }>, hold: { id: string, status: HoldStatus } | null, legs: Array<{ kind: OperationKind, amount: string, balanceAfter: string, wallet: { id: string } }> } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type TransferMutationVariables = Exact<{
  walletFromId: string | number;
  walletToId: string | number;
  amount: string;
  reference?: string | null | undefined;
  metadata?: Record<string, string> | null | undefined;
  idempotencyKey?: string | null | undefined;
  dryRun?: boolean | null | undefined;
}>;


export type TransferMutation = { transfer:
    | { __typename: 'BalanceLimitExceeded', code: ErrorCode, message: string, walletId: string, limit: string }
    | { __typename: 'CurrencyMismatch', code: ErrorCode, message: string, walletId: string, currency: string, expected: string }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InsufficientFunds', code: ErrorCode, message: string, walletId: string, balance: string, available: string, requested: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TransferSuccess', walletFromId: string, walletToId: string, amount: string, transactionNumber: string, walletFromBalance: string, walletToBalance: string | null, reference: string | null, metadata: Record<string, string>, dryRun: boolean, replayed: boolean }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
    | { __typename: 'WalletNotFound', code: ErrorCode, message: string, walletId: string }
   };

export type VoidHoldMutationVariables = Exact<{
  holdId: string | number;
  idempotencyKey?: string | null | undefined;
  dryRun?: boolean | null | undefined;
}>;


export type VoidHoldMutation = { voidHold:
    | { __typename: 'HoldExpired', code: ErrorCode, message: string, holdId: string }
    | { __typename: 'HoldNotFound', code: ErrorCode, message: string, holdId: string }
    | { __typename: 'HoldNotPending', code: ErrorCode, message: string, holdId: string, holdStatus: string }
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
    | { __typename: 'VoidHoldSuccess', amount: string, transactionNumber: string, dryRun: boolean, replayed: boolean, hold: { id: string, status: HoldStatus, amount: string, resolvedAt: string | null }, walletFrom: { id: string, balance: string, held: string, available: string } }
   };

export type WalletQueryVariables = Exact<{
  id: string | number;
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
  since?: string | null | undefined;
  until?: string | null | undefined;
  holdStatus?: HoldStatus | null | undefined;
}>;


export type WalletQuery = { wallet: { id: string, currency: string, balance: string, held: string, available: string, client: { id: string, login: string }, holds: Array<{ id: string, status: HoldStatus, amount: string, capturedAmount: string | null, expiresAt: string, walletFromId: string, walletToId: string }>, operations: { edges: Array<{ cursor: string, node: { id: string, transactionNumber: string, kind: OperationKind, amount: string, balanceAfter: string, reference: string | null, metadata: Record<string, string>, counterpartyWalletId: string | null, createdAt: string } }>, pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null } } } | null };

export type WalletEventsSubscriptionVariables = Exact<{
  walletId: string | number;
  after?: string | null | undefined;
}>;


export type WalletEventsSubscription = { walletEvents:
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'SubscriptionEnded', reason: SubscriptionEndReason, message: string, resumeAfter: string }
    | { __typename: 'WalletEvent', cursor: string, id: string, walletId: string, sequence: number, kind: WalletEventKind, amount: string, heldChange: string, balance: string, available: string | null, currency: string, transactionNumber: string | null, reference: string | null, metadata: Record<string, string>, holdId: string | null, createdAt: string }
    | { __typename: 'WalletNotFound', code: ErrorCode, message: string, walletId: string }
   };

export type WalletsQueryVariables = Exact<{
  ids: Array<string | number> | string | number;
}>;


export type WalletsQuery = { wallets: Array<{ id: string, currency: string, balance: string, held: string, available: string } | null> };

export type WithdrawMutationVariables = Exact<{
  walletId: string | number;
  amount: string;
  reference?: string | null | undefined;
  metadata?: Record<string, string> | null | undefined;
  idempotencyKey?: string | null | undefined;
  dryRun?: boolean | null | undefined;
}>;


export type WithdrawMutation = { withdraw:
    | { __typename: 'IdempotencyKeyReused', code: ErrorCode, message: string, idempotencyKey: string }
    | { __typename: 'InsufficientFunds', code: ErrorCode, message: string, walletId: string, balance: string, available: string, requested: string }
    | { __typename: 'InvalidInput', code: ErrorCode, message: string, field: string }
    | { __typename: 'OutcomeUnknown', code: ErrorCode, message: string }
    | { __typename: 'PermissionDenied', code: ErrorCode, message: string, operation: string }
    | { __typename: 'ServiceUnavailable', code: ErrorCode, message: string }
    | { __typename: 'TryAgain', code: ErrorCode, message: string }
    | { __typename: 'WalletNotFound', code: ErrorCode, message: string, walletId: string }
    | { __typename: 'WithdrawSuccess', walletId: string, amount: string, transactionNumber: string, walletBalance: string, reference: string | null, metadata: Record<string, string>, dryRun: boolean, replayed: boolean, wallet: { id: string, balance: string, held: string, available: string } }
   };

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
export const CaptureHoldDocument = new TypedDocumentString(`
    mutation CaptureHold($holdId: ID!, $amount: Money, $idempotencyKey: String, $dryRun: Boolean = false) {
  captureHold(
    input: {holdId: $holdId, amount: $amount, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
  ) {
    __typename
    ... on CaptureHoldSuccess {
      hold {
        id
        status
        amount
        capturedAmount
        resolvedAt
      }
      amount
      transactionNumber
      walletFrom {
        id
        balance
        held
        available
      }
      walletTo {
        id
        balance
        held
        available
      }
      dryRun
      replayed
    }
    ... on Error {
      code
      message
    }
    ... on InvalidInput {
      field
    }
    ... on HoldNotFound {
      holdId
    }
    ... on HoldNotPending {
      holdId
      holdStatus
    }
    ... on HoldExpired {
      holdId
    }
    ... on InsufficientFunds {
      walletId
      balance
      available
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
    `) as unknown as TypedDocumentString<CaptureHoldMutation, CaptureHoldMutationVariables>;
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
    mutation CreateClient($login: String!, $name: String!, $idempotencyKey: String, $currency: String) {
  createClient(
    input: {login: $login, name: $name, currency: $currency, idempotencyKey: $idempotencyKey}
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
        currency
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
export const CreateWalletDocument = new TypedDocumentString(`
    mutation CreateWallet($clientId: ID!, $currency: String!, $idempotencyKey: String) {
  createWallet(
    input: {clientId: $clientId, currency: $currency, idempotencyKey: $idempotencyKey}
  ) {
    __typename
    ... on CreateWalletSuccess {
      wallet {
        id
        currency
        balance
        held
        available
        client {
          id
        }
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
    ... on ClientNotFound {
      clientId
    }
    ... on IdempotencyKeyReused {
      idempotencyKey
    }
    ... on PermissionDenied {
      operation
    }
  }
}
    `) as unknown as TypedDocumentString<CreateWalletMutation, CreateWalletMutationVariables>;
export const HoldDocument = new TypedDocumentString(`
    query Hold($id: ID!) {
  hold(id: $id) {
    id
    status
    currency
    amount
    capturedAmount
    expiresAt
    walletFromId
    walletToId
    reference
    metadata
    createdAt
    resolvedAt
    walletFrom {
      id
      balance
      held
      available
    }
    walletTo {
      id
      balance
      held
      available
    }
    transactions {
      number
      kind
      amount
      createdAt
    }
  }
}
    `) as unknown as TypedDocumentString<HoldQuery, HoldQueryVariables>;
export const HoldTransferDocument = new TypedDocumentString(`
    mutation HoldTransfer($walletFromId: ID!, $walletToId: ID!, $amount: Money!, $expiresAt: DateTime, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
  holdTransfer(
    input: {walletFromId: $walletFromId, walletToId: $walletToId, amount: $amount, expiresAt: $expiresAt, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
  ) {
    __typename
    ... on HoldTransferSuccess {
      hold {
        id
        status
        currency
        amount
        expiresAt
        walletFromId
        walletToId
        reference
        metadata
        createdAt
      }
      amount
      expiresAt
      transactionNumber
      walletFrom {
        id
        currency
        balance
        held
        available
      }
      dryRun
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
    ... on CurrencyMismatch {
      walletId
      currency
      expected
    }
    ... on InsufficientFunds {
      walletId
      balance
      available
      requested
    }
    ... on IdempotencyKeyReused {
      idempotencyKey
    }
    ... on PermissionDenied {
      operation
    }
  }
}
    `) as unknown as TypedDocumentString<HoldTransferMutation, HoldTransferMutationVariables>;
export const LedgerSummaryDocument = new TypedDocumentString(`
    query LedgerSummary {
  ledgerSummary {
    wallets
    totalBalance
    totalResupplied
    currencies {
      currency
      totalBalance
      totalHeld
      totalResupplied
      totalWithdrawn
    }
  }
}
    `) as unknown as TypedDocumentString<LedgerSummaryQuery, LedgerSummaryQueryVariables>;
export const RefundDocument = new TypedDocumentString(`
    mutation Refund($transactionNumber: UUID!, $amount: Money, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
  refund(
    input: {transactionNumber: $transactionNumber, amount: $amount, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
  ) {
    __typename
    ... on RefundSuccess {
      transactionNumber
      refundOf
      amount
      remaining
      walletTo {
        id
        balance
        held
        available
      }
      walletsFrom {
        walletId
        amount
        wallet {
          id
          balance
          held
          available
        }
      }
      reference
      metadata
      dryRun
      replayed
    }
    ... on Error {
      code
      message
    }
    ... on InvalidInput {
      field
    }
    ... on TransactionNotFound {
      transactionNumber
    }
    ... on RefundExceedsRemaining {
      transactionNumber
      remaining
      requested
    }
    ... on InsufficientFunds {
      walletId
      balance
      available
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
    `) as unknown as TypedDocumentString<RefundMutation, RefundMutationVariables>;
export const ResupplyDocument = new TypedDocumentString(`
    mutation Resupply($walletId: ID!, $amount: Money!, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
  resupply(
    input: {walletId: $walletId, amount: $amount, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
  ) {
    __typename
    ... on ResupplySuccess {
      walletId
      amount
      transactionNumber
      walletBalance
      reference
      metadata
      dryRun
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
export const SplitTransferDocument = new TypedDocumentString(`
    mutation SplitTransfer($walletFromId: ID!, $legs: [SplitLegInput!]!, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
  splitTransfer(
    input: {walletFromId: $walletFromId, legs: $legs, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
  ) {
    __typename
    ... on SplitTransferSuccess {
      transactionNumber
      amount
      walletFromBalance
      walletFrom {
        id
        balance
        held
        available
      }
      legs {
        walletToId
        amount
        reference
        walletTo {
          id
          balance
        }
      }
      reference
      metadata
      dryRun
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
    ... on CurrencyMismatch {
      walletId
      currency
      expected
    }
    ... on InsufficientFunds {
      walletId
      balance
      available
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
    `) as unknown as TypedDocumentString<SplitTransferMutation, SplitTransferMutationVariables>;
export const TransactionDocument = new TypedDocumentString(`
    query Transaction($number: UUID!) {
  transaction(number: $number) {
    number
    kind
    currency
    amount
    reference
    metadata
    createdAt
    refundable
    refundOf {
      number
    }
    refunds {
      number
      amount
    }
    hold {
      id
      status
    }
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
export const TransactionsDocument = new TypedDocumentString(`
    query Transactions($filter: TransactionFilter, $first: Int, $after: String) {
  transactions(filter: $filter, first: $first, after: $after) {
    edges {
      cursor
      node {
        number
        kind
        currency
        amount
        reference
        metadata
        createdAt
        refundable
        refundOf {
          number
        }
        refunds {
          number
          amount
        }
        hold {
          id
          status
        }
        legs {
          kind
          amount
          balanceAfter
          wallet {
            id
          }
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<TransactionsQuery, TransactionsQueryVariables>;
export const TransferDocument = new TypedDocumentString(`
    mutation Transfer($walletFromId: ID!, $walletToId: ID!, $amount: Money!, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
  transfer(
    input: {walletFromId: $walletFromId, walletToId: $walletToId, amount: $amount, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
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
      metadata
      dryRun
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
    ... on CurrencyMismatch {
      walletId
      currency
      expected
    }
    ... on InsufficientFunds {
      walletId
      balance
      available
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
export const VoidHoldDocument = new TypedDocumentString(`
    mutation VoidHold($holdId: ID!, $idempotencyKey: String, $dryRun: Boolean = false) {
  voidHold(
    input: {holdId: $holdId, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
  ) {
    __typename
    ... on VoidHoldSuccess {
      hold {
        id
        status
        amount
        resolvedAt
      }
      amount
      transactionNumber
      walletFrom {
        id
        balance
        held
        available
      }
      dryRun
      replayed
    }
    ... on Error {
      code
      message
    }
    ... on InvalidInput {
      field
    }
    ... on HoldNotFound {
      holdId
    }
    ... on HoldNotPending {
      holdId
      holdStatus
    }
    ... on HoldExpired {
      holdId
    }
    ... on IdempotencyKeyReused {
      idempotencyKey
    }
    ... on PermissionDenied {
      operation
    }
  }
}
    `) as unknown as TypedDocumentString<VoidHoldMutation, VoidHoldMutationVariables>;
export const WalletDocument = new TypedDocumentString(`
    query Wallet($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $since: DateTime, $until: DateTime, $holdStatus: HoldStatus) {
  wallet(id: $id) {
    id
    currency
    balance
    held
    available
    client {
      id
      login
    }
    holds(status: $holdStatus) {
      id
      status
      amount
      capturedAmount
      expiresAt
      walletFromId
      walletToId
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
          metadata
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
export const WalletEventsDocument = new TypedDocumentString(`
    subscription WalletEvents($walletId: ID!, $after: String) {
  walletEvents(walletId: $walletId, after: $after) {
    __typename
    ... on WalletEvent {
      cursor
      id
      walletId
      sequence
      kind
      amount
      heldChange
      balance
      available
      currency
      transactionNumber
      reference
      metadata
      holdId
      createdAt
    }
    ... on SubscriptionEnded {
      reason
      message
      resumeAfter
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
  }
}
    `) as unknown as TypedDocumentString<WalletEventsSubscription, WalletEventsSubscriptionVariables>;
export const WalletsDocument = new TypedDocumentString(`
    query Wallets($ids: [ID!]!) {
  wallets(ids: $ids) {
    id
    currency
    balance
    held
    available
  }
}
    `) as unknown as TypedDocumentString<WalletsQuery, WalletsQueryVariables>;
export const WithdrawDocument = new TypedDocumentString(`
    mutation Withdraw($walletId: ID!, $amount: Money!, $reference: String, $metadata: Metadata, $idempotencyKey: String, $dryRun: Boolean = false) {
  withdraw(
    input: {walletId: $walletId, amount: $amount, reference: $reference, metadata: $metadata, idempotencyKey: $idempotencyKey, dryRun: $dryRun}
  ) {
    __typename
    ... on WithdrawSuccess {
      walletId
      amount
      transactionNumber
      walletBalance
      wallet {
        id
        balance
        held
        available
      }
      reference
      metadata
      dryRun
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
      available
      requested
    }
    ... on IdempotencyKeyReused {
      idempotencyKey
    }
    ... on PermissionDenied {
      operation
    }
  }
}
    `) as unknown as TypedDocumentString<WithdrawMutation, WithdrawMutationVariables>;