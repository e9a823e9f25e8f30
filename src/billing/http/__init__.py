"""HTTP plumbing both APIs share: authentication, request ids and limits, metrics, request logs."""
