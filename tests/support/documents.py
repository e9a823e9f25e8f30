"""The GraphQL documents the tests send again and again, each written once.

They select every field of the success type and of the errors the mutation may answer with.
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
