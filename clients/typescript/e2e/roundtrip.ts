// End-to-end check of the generated documents against a running service (the test suite starts
// one and runs this compiled with tsc). Reads BILLING_URL, BILLING_TOKEN and BILLING_FULL_WALLET_ID
// (a wallet holding 999999999999999999.69), asserts exact decimal strings, and prints what it saw
// as JSON for the caller to check as well.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { WebSocket } from "ws";

import { execute, RequestFailed, type Endpoint } from "../src/execute.js";
import {
  BalanceAtDocument,
  CaptureHoldDocument,
  CreateClientDocument,
  HoldDocument,
  HoldTransferDocument,
  LedgerSummaryDocument,
  RefundDocument,
  ResupplyDocument,
  TransactionDocument,
  TransferDocument,
  WalletDocument,
  WalletEventsDocument,
  type WalletEventsSubscription,
  WalletsDocument,
} from "../src/generated/graphql.js";
import { subscribe, type SocketEndpoint } from "../src/subscribe.js";

type WalletEventItem = Extract<
  WalletEventsSubscription["walletEvents"],
  { __typename: "WalletEvent" }
>;

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set`);
  return value;
}

const api: Endpoint = {
  url: required("BILLING_URL"),
  headers: { Authorization: `Bearer ${required("BILLING_TOKEN")}` },
};
const fullWalletId = required("BILLING_FULL_WALLET_ID");

async function newWallet(login: string): Promise<string> {
  const { createClient } = await execute(api, CreateClientDocument, { login, name: "TS client" });
  assert.equal(createClient.__typename, "CreateClientSuccess");
  if (createClient.__typename !== "CreateClientSuccess") throw new Error("unreachable");
  assert.equal(createClient.wallet.balance, "0.00");
  return createClient.wallet.id;
}

async function resupply(walletId: string, amount: string, reference?: string) {
  const { resupply } = await execute(api, ResupplyDocument, {
    walletId,
    amount,
    reference: reference ?? null,
  });
  return resupply;
}

const seen: Record<string, unknown> = {};
const suffix = randomUUID().slice(0, 8);
const payer = await newWallet(`ts-payer-${suffix}`);
const payee = await newWallet(`ts-payee-${suffix}`);

// 0.10 + 0.20 is exactly 0.30 (in binary floating point it is not).
const first = await resupply(payer, "0.10");
assert.equal(first.__typename, "ResupplySuccess");
const second = await resupply(payer, "0.20", "ts-order-1");
if (second.__typename !== "ResupplySuccess") throw new Error(`resupply: ${second.__typename}`);
assert.equal(second.walletBalance, "0.30");
assert.equal(second.amount, "0.20");
assert.equal(second.reference, "ts-order-1");
seen.afterResupplies = second.walletBalance;

// A transfer with an idempotency key, sent twice: the second answer is the first, replayed.
const key = randomUUID();
const transferVariables = {
  walletFromId: payer,
  walletToId: payee,
  amount: "0.30",
  reference: "ts-order-2",
  idempotencyKey: key,
};
const moved = (await execute(api, TransferDocument, transferVariables)).transfer;
if (moved.__typename !== "TransferSuccess") throw new Error(`transfer: ${moved.__typename}`);
assert.equal(moved.walletFromBalance, "0.00");
assert.equal(moved.walletToBalance, "0.30");
assert.equal(moved.replayed, false);
const again = (await execute(api, TransferDocument, transferVariables)).transfer;
if (again.__typename !== "TransferSuccess") throw new Error(`replay: ${again.__typename}`);
assert.equal(again.replayed, true);
assert.equal(again.transactionNumber, moved.transactionNumber);
seen.transfer = {
  walletFromBalance: moved.walletFromBalance,
  walletToBalance: moved.walletToBalance,
  transactionNumber: moved.transactionNumber,
};

// A typed error: the payer is empty now.
const refused = (await execute(api, TransferDocument, { ...transferVariables, idempotencyKey: null }))
  .transfer;
if (refused.__typename !== "InsufficientFunds") throw new Error(`refused: ${refused.__typename}`);
assert.equal(refused.code, "INSUFFICIENT_FUNDS");
assert.equal(refused.balance, "0.00");
assert.equal(refused.requested, "0.30");
seen.insufficientFunds = { code: refused.code, balance: refused.balance, requested: refused.requested };

// Beyond what a double holds exactly: a cent under the largest amount, and the largest balance.
const big = await resupply(payee, "999999999999999.99");
if (big.__typename !== "ResupplySuccess") throw new Error(`big: ${big.__typename}`);
assert.equal(big.walletBalance, "1000000000000000.29");
const full = await resupply(fullWalletId, "0.30");
if (full.__typename !== "ResupplySuccess") throw new Error(`full: ${full.__typename}`);
assert.equal(full.walletBalance, "999999999999999999.99");
const over = await resupply(fullWalletId, "0.01");
if (over.__typename !== "BalanceLimitExceeded") throw new Error(`over: ${over.__typename}`);
assert.equal(over.limit, "999999999999999999.99");
const down = (await execute(api, TransferDocument, {
  walletFromId: fullWalletId,
  walletToId: payer,
  amount: "0.99",
})).transfer;
if (down.__typename !== "TransferSuccess") throw new Error(`down: ${down.__typename}`);
assert.equal(down.walletFromBalance, "999999999999999999.00");
seen.large = {
  payeeBalance: big.walletBalance,
  fullBalance: full.walletBalance,
  limit: over.limit,
  afterTransfer: down.walletFromBalance,
};

// A hold of 30.00, 12.50 of it captured (the rest released), then refunded in two parts.
const buyer = await newWallet(`ts-buyer-${suffix}`);
const seller = await newWallet(`ts-seller-${suffix}`);
const funded = await resupply(buyer, "100.00");
assert.equal(funded.__typename, "ResupplySuccess");
const holdVariables = {
  walletFromId: buyer,
  walletToId: seller,
  amount: "30.00",
  expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  metadata: { order: `ts-${suffix}` },
  idempotencyKey: randomUUID(),
};
const held = (await execute(api, HoldTransferDocument, holdVariables)).holdTransfer;
if (held.__typename !== "HoldTransferSuccess") throw new Error(`hold: ${held.__typename}`);
assert.ok(held.hold);
assert.equal(held.hold.status, "PENDING");
assert.deepEqual(held.hold.metadata, holdVariables.metadata);
assert.deepEqual(
  [held.walletFrom.balance, held.walletFrom.held, held.walletFrom.available],
  ["100.00", "30.00", "70.00"],
);
const heldAgain = (await execute(api, HoldTransferDocument, holdVariables)).holdTransfer;
if (heldAgain.__typename !== "HoldTransferSuccess") throw new Error(heldAgain.__typename);
assert.equal(heldAgain.replayed, true);
assert.equal(heldAgain.hold?.id, held.hold.id);
assert.equal(Date.parse(held.expiresAt), Date.parse(held.hold.expiresAt));
const holdId = held.hold.id;

const beyond = (await execute(api, TransferDocument, {
  walletFromId: buyer,
  walletToId: seller,
  amount: "70.01",
})).transfer;
if (beyond.__typename !== "InsufficientFunds") throw new Error(`beyond: ${beyond.__typename}`);
assert.deepEqual([beyond.balance, beyond.available, beyond.requested], ["100.00", "70.00", "70.01"]);

const captured = (await execute(api, CaptureHoldDocument, { holdId, amount: "12.50" })).captureHold;
if (captured.__typename !== "CaptureHoldSuccess") throw new Error(`capture: ${captured.__typename}`);
assert.equal(captured.hold.status, "CAPTURED");
assert.equal(captured.hold.capturedAmount, "12.50");
assert.deepEqual(
  [captured.walletFrom.balance, captured.walletFrom.held, captured.walletFrom.available],
  ["87.50", "0.00", "87.50"],
);
assert.equal(captured.walletTo?.balance, "12.50");
const twice = (await execute(api, CaptureHoldDocument, { holdId })).captureHold;
if (twice.__typename !== "HoldNotPending") throw new Error(`twice: ${twice.__typename}`);
assert.equal(twice.holdStatus, "CAPTURED");

const part = (await execute(api, RefundDocument, {
  transactionNumber: captured.transactionNumber,
  amount: "5.00",
})).refund;
if (part.__typename !== "RefundSuccess") throw new Error(`refund: ${part.__typename}`);
assert.deepEqual([part.amount, part.remaining, part.walletTo?.balance], ["5.00", "7.50", "92.50"]);
assert.deepEqual(
  part.walletsFrom.map((leg) => [leg.walletId, leg.amount, leg.wallet?.balance]),
  [[seller, "5.00", "7.50"]],
);
const tooMuch = (await execute(api, RefundDocument, {
  transactionNumber: captured.transactionNumber,
  amount: "7.51",
})).refund;
if (tooMuch.__typename !== "RefundExceedsRemaining") throw new Error(tooMuch.__typename);
assert.deepEqual(
  [tooMuch.transactionNumber, tooMuch.remaining, tooMuch.requested],
  [captured.transactionNumber, "7.50", "7.51"],
);
const rest = (await execute(api, RefundDocument, { transactionNumber: captured.transactionNumber }))
  .refund;
if (rest.__typename !== "RefundSuccess") throw new Error(`rest: ${rest.__typename}`);
assert.deepEqual([rest.amount, rest.remaining, rest.walletTo?.balance], ["7.50", "0.00", "100.00"]);
const unknown = randomUUID();
const missing = (await execute(api, RefundDocument, { transactionNumber: unknown })).refund;
if (missing.__typename !== "TransactionNotFound") throw new Error(`missing: ${missing.__typename}`);
assert.equal(missing.transactionNumber, unknown);

const hold = (await execute(api, HoldDocument, { id: holdId })).hold;
assert.ok(hold);
assert.deepEqual(
  hold.transactions.map((t) => t.kind),
  ["HOLD", "CAPTURE"],
);
const after = (await execute(api, WalletsDocument, { ids: [buyer, seller] })).wallets;
const figures = after.map((w) => (w ? [w.balance, w.held, w.available] : null));
assert.deepEqual(figures, [
  ["100.00", "0.00", "100.00"],
  ["0.00", "0.00", "0.00"],
]);
seen.hold = {
  held: [held.walletFrom.balance, held.walletFrom.held, held.walletFrom.available],
  captured: captured.amount,
  afterCapture: [captured.walletFrom.balance, captured.walletFrom.held, captured.walletFrom.available],
  refunds: [part.amount, rest.amount],
  remaining: rest.remaining,
  after: figures,
  ids: [buyer, seller],
};

// The buyer's events over a WebSocket: its history so far, then what commits while subscribed;
// then again from a cursor. Money moves to the seller and back, so the balances stay as above.
const socket: SocketEndpoint = {
  url: api.url.replace(/^http/, "ws"),
  connectionParams: api.headers ?? {},
  webSocketImpl: WebSocket,
};
const events = subscribe(socket, WalletEventsDocument, { walletId: buyer });
const received: WalletEventItem[] = [];
async function nextEvent(stream: AsyncGenerator<WalletEventsSubscription>): Promise<WalletEventItem> {
  const step = await stream.next();
  if (step.done) throw new Error("the subscription ended");
  const item = step.value.walletEvents;
  if (item.__typename !== "WalletEvent") throw new Error(`event: ${item.__typename}`);
  return item;
}
for (let i = 0; i < 5; i += 1) received.push(await nextEvent(events));
for (const [from, to] of [[buyer, seller], [seller, buyer]] as const) {
  const moved = (await execute(api, TransferDocument, { walletFromId: from, walletToId: to, amount: "1.00" }))
    .transfer;
  assert.equal(moved.__typename, "TransferSuccess");
}
received.push(await nextEvent(events), await nextEvent(events));
await events.return();
assert.deepEqual(
  received.map((e) => e.sequence),
  [1, 2, 3, 4, 5, 6, 7],
);
const fifth = received[4];
assert.ok(fifth);
const resumed = subscribe(socket, WalletEventsDocument, { walletId: buyer, after: fifth.cursor });
const sixth = await nextEvent(resumed);
await resumed.return();
assert.equal(sixth.id, received[5]?.id);
const elsewhere = subscribe(socket, WalletEventsDocument, { walletId: "987654321" });
const notFound = (await elsewhere.next()).value?.walletEvents;
await elsewhere.return();
if (notFound?.__typename !== "WalletNotFound") throw new Error(`missing: ${notFound?.__typename}`);
seen.events = {
  items: received.map((e) => [e.sequence, e.kind, e.amount, e.heldChange, e.balance, e.available]),
  resumed: [sixth.sequence, sixth.kind, sixth.amount],
  notFound: notFound.code,
};

// Reads: the payee's history page, one transaction, a past balance, the ledger's totals.
const wallet = (await execute(api, WalletDocument, { id: payee, first: 10 })).wallet;
assert.ok(wallet);
assert.equal(wallet.balance, "1000000000000000.29");
assert.deepEqual(
  wallet.operations.edges.map((edge) => [edge.node.kind, edge.node.amount, edge.node.balanceAfter]),
  [
    ["RESUPPLY", "999999999999999.99", "1000000000000000.29"],
    ["TRANSFER_IN", "0.30", "0.30"],
  ],
);
const transaction = (await execute(api, TransactionDocument, { number: moved.transactionNumber }))
  .transaction;
assert.ok(transaction);
assert.equal(transaction.kind, "TRANSFER");
assert.deepEqual(
  transaction.legs.map((leg) => [leg.wallet.id, leg.amount]).sort(),
  [
    [payee, "0.30"],
    [payer, "-0.30"],
  ].sort(),
);
const past = (await execute(api, BalanceAtDocument, { id: payer, time: "2000-01-01T00:00:00Z" }))
  .wallet;
assert.ok(past);
assert.equal(past.balanceAt, null);
const { ledgerSummary } = await execute(api, LedgerSummaryDocument);
assert.ok(ledgerSummary);
seen.walletBalance = wallet.balance;
seen.totalBalance = ledgerSummary.totalBalance;

// Without a valid token the whole request is refused.
try {
  await execute({ url: api.url }, LedgerSummaryDocument);
  assert.fail("a request without a token was answered");
} catch (error) {
  assert.ok(error instanceof RequestFailed);
  assert.equal(error.status, 401);
  assert.equal(error.errors[0]?.extensions?.code, "UNAUTHENTICATED");
  seen.unauthenticated = error.status;
}

process.stdout.write(`${JSON.stringify(seen)}\n`);
