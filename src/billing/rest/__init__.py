"""A REST adapter for callers of the original REST service: its endpoints and JSON shapes.

It translates like the GraphQL layer does (request -> one domain call -> answer), over the
same domain functions, tokens, idempotency keys and validation; only the wire format differs.
"""

from billing.rest.errors import error_response
from billing.rest.routes import PATHS, error_for, routes

__all__ = ["PATHS", "error_for", "error_response", "routes"]
