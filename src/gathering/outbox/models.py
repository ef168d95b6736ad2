"""Models of the outbox app."""
