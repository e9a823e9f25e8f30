-- One API resupply, statement for statement (src/billing/domain/payments.py `resupply`): the
-- wallet gate on one wallet, one SERIALIZABLE transaction that credits it with a conditional
-- update and records the transaction and its leg, then the gate's release.
-- Variables (-D): lo, hi: the wallet id range; amount: e.g. 1.00.
\set w random(:lo, :hi)
-- Release first (see transfer.sql): a failed attempt's gate must not outlive it.
SELECT pg_advisory_unlock_all(), pg_advisory_lock(:w);
BEGIN ISOLATION LEVEL SERIALIZABLE;
UPDATE wallets SET balance = balance + :amount WHERE id = :w AND balance <= 999999999999999999.99 - :amount RETURNING client_id, balance \gset
INSERT INTO transactions (number, kind, amount, reference) VALUES (gen_random_uuid(), 'RESUPPLY', :amount, NULL) RETURNING id AS tx \gset
INSERT INTO wallet_operations (transaction_id, wallet_id, amount, balance_after) VALUES (:tx, :w, :amount, :balance);
COMMIT;
SELECT pg_advisory_unlock_all();
