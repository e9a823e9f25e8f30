"""Parse and validate each distinct document once.

Clients send the same few documents again and again, and validating one costs far more than
executing it. ``PreparedDocuments`` keeps the parsed document and its validation errors by
the document's text (bounded, least recently used out), and ``DocumentLimits`` is the one
extension that applies the request limits (tokens, depth, aliases, introspection) on a miss
and skips parsing and validation on a hit.

The limits are fixed for the life of a schema, so the text alone is the key: a document that
was refused stays refused with the same errors, and one that passed passes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from billing.graphql.compiled import Compiled

# Queries of one object that one statement reads whole: the root field, and the fields of its
# object that the statement's row answers (billing.domain.reads). A query asking for nothing
# else needs no snapshot (see ``one_statement``).
ONE_STATEMENT_READS: dict[str, frozenset[str]] = {
    "wallet": frozenset({"__typename", "id", "currency", "balance", "held", "available"}),
    "client": frozenset({"__typename", "id", "login", "name"}),
}


@dataclass(frozen=True, slots=True)
class Prepared:
    document: DocumentNode
    errors: list[GraphQLError]  # empty when the document is valid
    # Each operation's compiled plan by operation name, once asked for (None: it does not
    # compile; see billing.graphql.compiled).
    plans: dict[str | None, Compiled | None] = field(default_factory=dict)


def selected(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation ``name`` selects (None: the document's only one), if exactly one."""
    operations = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (name is None or (d.name is not None and d.name.value == name))
    ]
    return operations[0] if len(operations) == 1 else None


def operation_type(operation: OperationDefinitionNode) -> OperationType:
    return OperationType(operation.operation.value)


def one_statement(operation: OperationDefinitionNode) -> bool:
    """Whether ``operation`` reads one object with one statement: a query of one root field of
    ONE_STATEMENT_READS, without directives or fragments, asking only for fields its row
    answers. (Then its one statement sees one snapshot by itself.)"""
    if operation.operation.value != "query":
        return False
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(root := roots[0], FieldNode) or root.directives:
        return False
    answered = ONE_STATEMENT_READS.get(root.name.value)
    if answered is None or root.selection_set is None:
        return False
    return all(
        isinstance(field, FieldNode)
        and field.name.value in answered
        and not field.directives
        and field.selection_set is None
        for field in root.selection_set.selections
    )


class PreparedDocuments:
    """A bounded LRU of documents by their text."""

    def __init__(
        self, *, rules: tuple[type[ASTValidationRule], ...], max_tokens: int, size: int
    ) -> None:
        self.rules = rules
        self.max_tokens = max_tokens
        self.size = size
        self._entries: OrderedDict[str, Prepared] = OrderedDict()

    def get(self, text: str) -> Prepared | None:
        entry = self._entries.get(text)
        if entry is not None:
            self._entries.move_to_end(text)
        return entry

    def put(self, text: str, entry: Prepared) -> None:
        self._entries[text] = entry
        self._entries.move_to_end(text)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class DocumentLimits(SchemaExtension):
    """Request limits on parsing and validation, and the cache that makes both run once."""

    def __init__(self, documents: PreparedDocuments) -> None:
        super().__init__()
        self.documents = documents
        self.hit: Prepared | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query and (hit := self.documents.get(context.query)):
            self.hit = hit
            context.graphql_document = hit.document  # Strawberry then skips parsing
        else:
            context.parse_options["max_tokens"] = self.documents.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self.hit is not None:
            context.pre_execution_errors = self.hit.errors  # Strawberry then skips validation
            yield
            return
        context.validation_rules = (*context.validation_rules, *self.documents.rules)
        yield
        errors = context.pre_execution_errors
        if context.query and context.graphql_document is not None and errors is not None:
            self.documents.put(context.query, Prepared(context.graphql_document, list(errors)))
