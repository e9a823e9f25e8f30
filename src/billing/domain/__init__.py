"""Business operations. No GraphQL here: the API layer translates, this layer decides."""
