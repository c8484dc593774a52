"""The notifier's own tables: the delivery queue and its attempt records (the outbox of the deliveries topic),
their reads for the API and the callbacks, and the Alembic migrations."""
