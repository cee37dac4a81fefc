"""Brokers: the in-memory StubBroker and the Celery-backed RedisBroker."""
