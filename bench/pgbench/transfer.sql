-- One API transfer, statement for statement (src/billing/domain/payments.py `transfer` run by
-- src/billing/domain/transactions.py `Database.write`): the wallet gate (session advisory locks
-- in ascending wallet id order, taken before the snapshot), one SERIALIZABLE transaction that
-- updates both wallets in ascending id order with conditional updates, records the transaction
-- and its two legs with the balances left behind, then releases the gate.
-- Variables (-D): lo, hi: the wallet id range; amount: e.g. 1.00; debit: its negative.
\set a random(:lo, :hi)
\set b random(:lo, :hi - 1)
\set b CASE WHEN :b >= :a THEN :b + 1 ELSE :b END
\set first least(:a, :b)
\set second greatest(:a, :b)
-- pgbench skips the rest of the script when a transaction fails for good (and restarts it on a
-- retry), so the gate of a failed attempt would outlive it and break the lock order; the API
-- releases it in a `finally`. Releasing first, in the same statement, costs no round trip.
SELECT pg_advisory_unlock_all(), pg_advisory_lock(:first), pg_advisory_lock(:second);
BEGIN ISOLATION LEVEL SERIALIZABLE;
\if :a < :b
UPDATE wallets SET balance = balance - :amount WHERE id = :a AND balance >= :amount RETURNING client_id AS from_client, balance AS from_balance \gset
UPDATE wallets SET balance = balance + :amount WHERE id = :b AND balance <= 999999999999999999.99 - :amount RETURNING client_id AS to_client, balance AS to_balance \gset
\else
UPDATE wallets SET balance = balance + :amount WHERE id = :b AND balance <= 999999999999999999.99 - :amount RETURNING client_id AS to_client, balance AS to_balance \gset
UPDATE wallets SET balance = balance - :amount WHERE id = :a AND balance >= :amount RETURNING client_id AS from_client, balance AS from_balance \gset
\endif
INSERT INTO transactions (number, kind, amount, reference) VALUES (gen_random_uuid(), 'TRANSFER', :amount, NULL) RETURNING id AS tx \gset
INSERT INTO wallet_operations (transaction_id, wallet_id, amount, balance_after) VALUES (:tx, :a, :debit, :from_balance), (:tx, :b, :amount, :to_balance);
COMMIT;
SELECT pg_advisory_unlock_all();
