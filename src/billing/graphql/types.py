"""Object types: clients, wallets and the success payloads of mutations."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Self

import strawberry
from graphql import GraphQLError

from billing.domain import history, holds
from billing.domain.records import (
    ClientRecord,
    CurrencyRecord,
    HoldRecord,
    NewClient,
    NewWallet,
    Posted,
    WalletRecord,
)
from billing.graphql.context import Context
from billing.graphql.history import OperationConnection, as_utc, operations_connection
from billing.graphql.scalars import Metadata, Money, money

if TYPE_CHECKING:
    from billing.graphql.history import Transaction

ZERO = Decimal(0)
HOLDS_MAX = 100


def gid(value: int) -> strawberry.ID:
    return strawberry.ID(str(value))


@strawberry.type(description="A customer. Created with its first wallet.")
class Client:
    id: strawberry.ID
    login: str = strawberry.field(description="Unique, compared ignoring case.")
    name: str

    @strawberry.field(description="The client's wallets, oldest first.")
    async def wallets(self, info: strawberry.Info[Context, None]) -> list[Wallet]:
        records = await info.context.loaders.wallets_of_client.load(int(self.id))
        return [Wallet.from_record(r) for r in records]

    @classmethod
    def from_record(cls, record: ClientRecord) -> Client:
        return cls(id=gid(record.id), login=record.login, name=record.name)


@strawberry.enum(description="Where a hold stands.")
class HoldStatus(enum.Enum):
    PENDING = "PENDING"
    CAPTURED = "CAPTURED"
    VOIDED = "VOIDED"
    EXPIRED = "EXPIRED"


@strawberry.type(description="A balance in one currency, owned by one client.")
class Wallet:
    id: strawberry.ID
    currency: str = strawberry.field(description="An ISO 4217 code, or an operator's asset.")
    balance: Money = strawberry.field(
        description="Everything in the wallet, held or not. Never negative."
    )
    record: strawberry.Private[WalletRecord]

    @strawberry.field(description="What pending holds that have not expired reserve.")
    async def held(self, info: strawberry.Info[Context, None]) -> Money:
        held = (await self._now(info)).held
        return money(ZERO if held is None else held)

    @strawberry.field(
        description=(
            "What can be spent: the balance less what holds reserve. No debit takes it below"
            " zero. (Answering a repeated request, it is the wallet's as it is now.)"
        )
    )
    async def available(self, info: strawberry.Info[Context, None]) -> Money:
        now = await self._now(info)
        return money(now.balance if now.held is None else now.balance - now.held)

    async def _now(self, info: strawberry.Info[Context, None]) -> WalletRecord:
        """This record when it knows what is held, else the wallet as it is now."""
        if self.record.held is not None:
            return self.record
        current = await info.context.loaders.wallet.load(self.record.id)
        return current if current is not None else self.record

    @strawberry.field(description="The owner of this wallet.")
    async def client(self, info: strawberry.Info[Context, None]) -> Client:
        record = self.record.owner or await info.context.loaders.client.load(self.record.client_id)
        if record is None:  # a foreign key guarantees the owner exists
            raise LookupError(f"client {self.record.client_id} of wallet {self.id} not found")
        return Client.from_record(record)

    @strawberry.field(description="The wallet's operations, newest first, in pages.")
    async def operations(
        self,
        info: strawberry.Info[Context, None],
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        since: Annotated[
            datetime | None, strawberry.argument(description="Only operations at or after this.")
        ] = None,
        until: Annotated[
            datetime | None, strawberry.argument(description="Only operations before this time.")
        ] = None,
    ) -> OperationConnection:
        return await operations_connection(
            info,
            int(self.id),
            first=first,
            after=after,
            last=last,
            before=before,
            since=since,
            until=until,
        )

    @strawberry.field(
        description=(
            "The balance as it was at that instant (times without an offset are UTC); null"
            " if the wallet did not exist yet."
        )
    )
    async def balance_at(
        self, info: strawberry.Info[Context, None], time: datetime
    ) -> Money | None:
        at = as_utc(time, "time")
        assert at is not None
        balance = await info.context.reader.run(
            lambda conn: history.balance_at(conn, int(self.id), at)
        )
        return None if balance is None else money(balance)

    @strawberry.field(
        description=(
            f"The wallet's holds, paying or receiving, newest first (at most {HOLDS_MAX});"
            " only those of one status if given."
        )
    )
    async def holds(
        self,
        info: strawberry.Info[Context, None],
        status: HoldStatus | None = None,
        first: int = 20,
    ) -> list[Hold]:
        if not 0 <= first <= HOLDS_MAX:
            raise GraphQLError(f"`first` must be between 0 and {HOLDS_MAX}.")
        found = await info.context.reader.run(
            lambda conn: holds.holds_of_wallet(
                conn, int(self.id), None if status is None else status.value, first
            )
        )
        return [Hold.from_record(h) for h in found]

    @classmethod
    def from_record(cls, record: WalletRecord) -> Wallet:
        return cls(
            id=gid(record.id),
            currency=record.currency,
            balance=money(record.balance),
            record=record,
        )


@strawberry.type(
    description=(
        "Money reserved on one wallet for another: captured (all or part), voided, or expired"
        " at expiresAt (the database's clock), whichever comes first."
    )
)
class Hold:
    id: strawberry.ID
    status: HoldStatus = strawberry.field(
        description="EXPIRED as soon as expiresAt passes, while still pending."
    )
    currency: str
    amount: Money = strawberry.field(description="What it reserves (reserved) while pending.")
    captured_amount: Money | None = strawberry.field(description="What a capture moved.")
    expires_at: datetime
    wallet_from_id: strawberry.ID
    wallet_to_id: strawberry.ID
    reference: str | None
    metadata: Metadata
    created_at: datetime
    resolved_at: datetime | None = strawberry.field(description="When it was captured or voided.")

    @strawberry.field(description="The paying wallet; null when the caller may not see it.")
    async def wallet_from(self, info: strawberry.Info[Context, None]) -> Wallet | None:
        record = await info.context.loaders.wallet.load(int(self.wallet_from_id))
        return None if record is None else Wallet.from_record(record)

    @strawberry.field(description="The receiving wallet; null when the caller may not see it.")
    async def wallet_to(self, info: strawberry.Info[Context, None]) -> Wallet | None:
        record = await info.context.loaders.wallet.load(int(self.wallet_to_id))
        return None if record is None else Wallet.from_record(record)

    @strawberry.field(description="Its HOLD transaction, then its CAPTURE or VOID, if any.")
    async def transactions(
        self, info: strawberry.Info[Context, None]
    ) -> list[Annotated[Transaction, strawberry.lazy("billing.graphql.history")]]:
        from billing.graphql.history import Transaction

        owner = info.context.actor.owner_filter
        found = await info.context.reader.run(
            lambda conn: history.linked_transactions(conn, hold=int(self.id), owner=owner)
        )
        return [Transaction.from_record(t) for t in found]

    @classmethod
    def from_record(cls, r: HoldRecord) -> Hold:
        return cls(
            id=gid(r.id),
            status=HoldStatus(r.status),
            currency=r.currency,
            amount=money(r.amount),
            captured_amount=None if r.captured_amount is None else money(r.captured_amount),
            expires_at=r.expires_at,
            wallet_from_id=gid(r.wallet_from_id),
            wallet_to_id=gid(r.wallet_to_id),
            reference=r.reference,
            metadata=Metadata(r.metadata),
            created_at=r.created_at,
            resolved_at=r.resolved_at,
        )


@strawberry.type(description="A currency (ISO 4217) or an operator's own asset.")
class Currency:
    code: str
    exponent: int = strawberry.field(description="Its number of decimals: USD 2, JPY 0.")
    name: str | None
    custom: bool = strawberry.field(description="Added by an operator, not ISO 4217.")

    @classmethod
    def from_record(cls, r: CurrencyRecord) -> Currency:
        return cls(code=r.code, exponent=r.exponent, name=r.name, custom=r.custom)


REPLAYED = "True when this answers a repeated request with the same idempotency key."
DRY_RUN = (
    "True for a dry run: every check ran and the figures are what the operation would leave,"
    " but nothing changed and the transaction number is not recorded."
)


def _wallet(record: WalletRecord | None) -> Wallet | None:
    return None if record is None else Wallet.from_record(record)


@strawberry.type(description="The new client and its first wallet.")
class CreateClientSuccess:
    client: Client
    wallet: Wallet
    replayed: bool = strawberry.field(description=REPLAYED)

    @classmethod
    def from_domain(cls, done: NewClient) -> CreateClientSuccess:
        return cls(
            client=Client.from_record(done.client),
            wallet=Wallet.from_record(done.wallet),
            replayed=done.replayed,
        )


@strawberry.type(description="A new, empty wallet.")
class CreateWalletSuccess:
    wallet: Wallet
    replayed: bool = strawberry.field(description=REPLAYED)

    @classmethod
    def from_domain(cls, done: NewWallet) -> CreateWalletSuccess:
        return cls(wallet=Wallet.from_record(done.wallet), replayed=done.replayed)


@strawberry.type(description="A new currency or asset.")
class CreateCurrencySuccess:
    currency: Currency

    @classmethod
    def from_domain(cls, done: CurrencyRecord) -> CreateCurrencySuccess:
        return cls(currency=Currency.from_record(done))


@strawberry.type(description="Money credited to a wallet from outside the ledger.")
class ResupplySuccess:
    wallet_id: strawberry.ID
    amount: Money
    transaction_number: uuid.UUID = strawberry.field(description="Unique id of this operation.")
    wallet_balance: Money = strawberry.field(description="The balance right after it.")
    wallet: Wallet = strawberry.field(description="The wallet as it was right after it.")
    reference: str | None
    metadata: Metadata
    dry_run: bool = strawberry.field(description=DRY_RUN)
    replayed: bool = strawberry.field(description=REPLAYED)

    @classmethod
    def from_domain(cls, done: Posted) -> Self:
        return cls(
            wallet_id=gid(done.wallet.id),
            amount=money(done.amount),
            transaction_number=done.transaction_number,
            wallet_balance=money(done.wallet.balance),
            wallet=Wallet.from_record(done.wallet),
            reference=done.reference,
            metadata=Metadata(done.metadata),
            dry_run=done.dry_run,
            replayed=done.replayed,
        )


@strawberry.type(description="Money paid out of a wallet, leaving the ledger.")
class WithdrawSuccess(ResupplySuccess):
    pass


@strawberry.type(description="Money moved from one wallet to another.")
class TransferSuccess:
    wallet_from_id: strawberry.ID
    wallet_to_id: strawberry.ID
    amount: Money
    transaction_number: uuid.UUID = strawberry.field(description="Unique id of this operation.")
    wallet_from_balance: Money = strawberry.field(
        description="The sending wallet's balance right after this transfer."
    )
    wallet_to_balance: Money | None = strawberry.field(
        description=(
            "The receiving wallet's balance right after this transfer; null when the caller may"
            " not see the receiving wallet."
        )
    )
    wallet_from: Wallet
    wallet_to: Wallet | None = strawberry.field(
        description="The receiving wallet; null when the caller may not see it."
    )
    reference: str | None
    metadata: Metadata
    dry_run: bool = strawberry.field(description=DRY_RUN)
    replayed: bool = strawberry.field(description=REPLAYED)

    @classmethod
    def from_domain(cls, done: Posted) -> TransferSuccess:
        return cls(
            wallet_from_id=gid(done.wallet_from.id),
            wallet_to_id=gid(done.wallet_to_id),
            amount=money(done.amount),
            transaction_number=done.transaction_number,
            wallet_from_balance=money(done.wallet_from.balance),
            wallet_to_balance=None if done.wallet_to is None else money(done.wallet_to.balance),
            wallet_from=Wallet.from_record(done.wallet_from),
            wallet_to=_wallet(done.wallet_to),
            reference=done.reference,
            metadata=Metadata(done.metadata),
            dry_run=done.dry_run,
            replayed=done.replayed,
        )


@strawberry.type(description="One receiving wallet of a split payment.")
class SplitLeg:
    wallet_to_id: strawberry.ID
    amount: Money
    reference: str | None
    wallet_to: Wallet | None = strawberry.field(
        description="The wallet right after the payment; null when the caller may not see it."
    )


@strawberry.type(description="One payment to several wallets, all or nothing.")
class SplitTransferSuccess:
    transaction_number: uuid.UUID
    amount: Money = strawberry.field(description="The total paid: the sum of the legs.")
    wallet_from: Wallet = strawberry.field(description="The paying wallet right after it.")
    wallet_from_balance: Money
    legs: list[SplitLeg] = strawberry.field(description="In the order given.")
    reference: str | None
    metadata: Metadata
    dry_run: bool = strawberry.field(description=DRY_RUN)
    replayed: bool = strawberry.field(description=REPLAYED)

    @classmethod
    def from_domain(cls, done: Posted) -> SplitTransferSuccess:
        references = done.leg_references or [None] * len(done.wallet_ids)
        return cls(
            transaction_number=done.transaction_number,
            amount=money(done.amount),
            wallet_from=Wallet.from_record(done.wallet_from),
            wallet_from_balance=money(done.wallet_from.balance),
            legs=[
                SplitLeg(
                    wallet_to_id=gid(wid),
                    amount=money(amount),
                    reference=reference,
                    wallet_to=_wallet(wallet),
                )
                for wid, amount, reference, wallet in zip(
                    done.wallet_ids[1:],
                    done.leg_amounts[1:],
                    references[1:],
                    done.wallets[1:],
                    strict=True,
                )
            ],
            reference=done.reference,
            metadata=Metadata(done.metadata),
            dry_run=done.dry_run,
            replayed=done.replayed,
        )


@strawberry.type(description="Money reserved on a wallet.")
class HoldTransferSuccess:
    hold: Hold | None = strawberry.field(description="The new hold; null on a dry run.")
    amount: Money
    expires_at: datetime
    wallet_from: Wallet = strawberry.field(
        description="The paying wallet right after it: held up, available down."
    )
    transaction_number: uuid.UUID
    dry_run: bool = strawberry.field(description=DRY_RUN)
    replayed: bool = strawberry.field(description=REPLAYED)

    @classmethod
    def from_domain(cls, done: Posted) -> HoldTransferSuccess:
        assert done.expires_at is not None
        return cls(
            hold=None if done.hold is None else Hold.from_record(done.hold),
            amount=money(done.amount),
            expires_at=done.expires_at,
            wallet_from=Wallet.from_record(done.wallet_from),
            transaction_number=done.transaction_number,
            dry_run=done.dry_run,
            replayed=done.replayed,
        )


@strawberry.type(description="A hold captured: money moved, the rest released.")
class CaptureHoldSuccess:
    hold: Hold
    amount: Money = strawberry.field(description="What moved.")
    transaction_number: uuid.UUID
    wallet_from: Wallet
    wallet_to: Wallet | None = strawberry.field(
        description="The receiving wallet right after it; null when the caller may not see it."
    )
    dry_run: bool = strawberry.field(description=DRY_RUN)
    replayed: bool = strawberry.field(description=REPLAYED)

    @classmethod
    def from_domain(cls, done: Posted) -> CaptureHoldSuccess:
        assert done.hold is not None
        return cls(
            hold=Hold.from_record(done.hold),
            amount=money(done.amount),
            transaction_number=done.transaction_number,
            wallet_from=Wallet.from_record(done.wallet_from),
            wallet_to=_wallet(done.wallet_to),
            dry_run=done.dry_run,
            replayed=done.replayed,
        )


@strawberry.type(description="A hold voided: all it reserved is available again.")
class VoidHoldSuccess:
    hold: Hold
    amount: Money = strawberry.field(description="What was released.")
    transaction_number: uuid.UUID
    wallet_from: Wallet
    dry_run: bool = strawberry.field(description=DRY_RUN)
    replayed: bool = strawberry.field(description=REPLAYED)

    @classmethod
    def from_domain(cls, done: Posted) -> VoidHoldSuccess:
        assert done.hold is not None
        return cls(
            hold=Hold.from_record(done.hold),
            amount=money(done.amount),
            transaction_number=done.transaction_number,
            wallet_from=Wallet.from_record(done.wallet_from),
            dry_run=done.dry_run,
            replayed=done.replayed,
        )


@strawberry.type(description="A wallet money came back from, in a refund.")
class RefundLeg:
    wallet_id: strawberry.ID
    amount: Money = strawberry.field(description="What it gave back.")
    wallet: Wallet | None = strawberry.field(
        description="The wallet right after the refund; null when the caller may not see it."
    )


@strawberry.type(description="Money sent back from the wallets a payment credited to the payer.")
class RefundSuccess:
    transaction_number: uuid.UUID = strawberry.field(description="The refund's own number.")
    refund_of: uuid.UUID = strawberry.field(description="The payment it refunds.")
    amount: Money
    remaining: Money = strawberry.field(
        description="What stays refundable of the payment after this refund (answering a"
        " repeated request: now)."
    )
    wallet_to: Wallet | None = strawberry.field(
        description="The payment's paying wallet, credited, right after the refund; null when"
        " the caller may not see it."
    )
    wallets_from: list[RefundLeg] = strawberry.field(
        description="The wallets the money came back from (a split's in leg order)."
    )
    reference: str | None
    metadata: Metadata
    dry_run: bool = strawberry.field(description=DRY_RUN)
    replayed: bool = strawberry.field(description=REPLAYED)

    @classmethod
    def from_domain(cls, done: Posted) -> RefundSuccess:
        assert done.refund_of is not None
        assert done.remaining is not None
        return cls(
            transaction_number=done.transaction_number,
            refund_of=done.refund_of,
            amount=money(done.amount),
            remaining=money(done.remaining),
            wallet_to=_wallet(done.wallets[0]),
            wallets_from=[
                RefundLeg(wallet_id=gid(wid), amount=money(-amount), wallet=_wallet(wallet))
                for wid, amount, wallet in zip(
                    done.wallet_ids[1:], done.leg_amounts[1:], done.wallets[1:], strict=True
                )
            ],
            reference=done.reference,
            metadata=Metadata(done.metadata),
            dry_run=done.dry_run,
            replayed=done.replayed,
        )
