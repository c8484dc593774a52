"""Ownership configuration as code: the model, its loader and the pure calculators built on it.

Nothing in this package touches a database, Kafka or the clock: callers pass instants in, so the same code
answers the live path, the preview API and the config linter.
"""
