"""Typed async client for the billing GraphQL API.

Everything here is generated from the API's schema and the documents in clients/operations
(see the subpackage ``billing_client.generated``); ``billing_client.scalars`` maps the custom
scalars to Python types.
"""

from billing_client.generated import *  # noqa: F403
from billing_client.generated import __all__ as __all__
