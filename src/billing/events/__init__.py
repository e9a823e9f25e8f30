"""Events at run time: the relay that turns the outbox into webhook deliveries and wake-ups,
the per-process hub that feeds subscriptions, and the webhook sender."""
