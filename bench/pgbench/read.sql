-- One API read of `wallet(id) { balance }` (src/billing/graphql/context.py `Reader`,
-- src/billing/domain/reads.py `wallets_by_id`): one read-only REPEATABLE READ snapshot.
-- Variables (-D): lo, hi: the wallet id range.
\set w random(:lo, :hi)
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT id, client_id, balance FROM wallets WHERE id IN (:w);
COMMIT;
