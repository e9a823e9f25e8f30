"""The API's statements for one operation, as the asyncpg baseline sends them.

They mirror ``bench/pgbench/*.sql`` and src/billing/domain/payments.py: the wallet gate
(advisory locks in ascending wallet id order, before the snapshot), one SERIALIZABLE transaction
of conditional updates in ascending wallet id order plus the ledger rows, then the release.
"""

LOCK_ONE = "SELECT pg_advisory_lock($1)"
LOCK_TWO = "SELECT pg_advisory_lock($1), pg_advisory_lock($2)"
UNLOCK_ALL = "SELECT pg_advisory_unlock_all()"
DEBIT = (
    "UPDATE wallets SET balance = balance - $1 WHERE id = $2 AND balance >= $1"
    " RETURNING client_id, balance"
)
CREDIT = (
    "UPDATE wallets SET balance = balance + $1 WHERE id = $2"
    " AND balance <= 999999999999999999.99 - $1 RETURNING client_id, balance"
)
RECORD = (
    "INSERT INTO transactions (number, kind, amount, reference)"
    " VALUES (gen_random_uuid(), $1, $2, NULL) RETURNING id"
)
ONE_LEG = (
    "INSERT INTO wallet_operations (transaction_id, wallet_id, amount, balance_after)"
    " VALUES ($1, $2, $3, $4)"
)
TWO_LEGS = (
    "INSERT INTO wallet_operations (transaction_id, wallet_id, amount, balance_after)"
    " VALUES ($1, $2, $3, $4), ($1, $5, $6, $7)"
)
READ_WALLETS = "SELECT id, client_id, balance FROM wallets WHERE id = ANY($1::bigint[])"
