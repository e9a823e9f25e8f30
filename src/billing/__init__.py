"""Billing: a GraphQL wallet and billing API on PostgreSQL."""

__version__ = "0.1.0"
