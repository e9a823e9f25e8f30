"""The GraphQL documents the tests send again and again, each written once.

They select the success type's fields and those of the errors the mutation may answer with.
Tests that need more (``replayed``, say) derive their document from these or, where the whole
result is compared with a prediction, write their own and say why.

Not clients/operations/*.graphql: those are the typed clients' documents (flat variables, their
own selections), and what is changed there for the clients must not change what tests see.
"""

from __future__ import annotations

ERROR_FIELDS = "... on Error { code message }"

CREATE_CLIENT = f"""
mutation CreateClient($input: CreateClientInput!) {{
  createClient(input: $input) {{
    __typename
    ... on CreateClientSuccess {{ client {{ id login name }} wallet {{ id balance }} }}
    ... on InvalidInput {{ field }}
    ... on LoginTaken {{ login }}
    {ERROR_FIELDS}
  }}
}}
"""

RESUPPLY = f"""
mutation Resupply($input: ResupplyInput!) {{
  resupply(input: $input) {{
    __typename
    ... on ResupplySuccess {{
      walletId amount transactionNumber walletBalance wallet {{ id balance }}
    }}
    ... on InvalidInput {{ field }}
    ... on WalletNotFound {{ walletId }}
    ... on BalanceLimitExceeded {{ walletId limit }}
    {ERROR_FIELDS}
  }}
}}
"""

TRANSFER = f"""
mutation Transfer($input: TransferInput!) {{
  transfer(input: $input) {{
    __typename
    ... on TransferSuccess {{
      walletFromId walletToId amount transactionNumber walletFromBalance walletToBalance
      walletFrom {{ id balance }} walletTo {{ id balance }}
    }}
    ... on InvalidInput {{ field }}
    ... on WalletNotFound {{ walletId }}
    ... on InsufficientFunds {{ walletId balance requested }}
    ... on BalanceLimitExceeded {{ walletId limit }}
    {ERROR_FIELDS}
  }}
}}
"""

WALLET_BALANCE = "query Balance($id: ID!) { wallet(id: $id) { id balance } }"
