"""store package: persistence on SQLite and PostgreSQL (SQLAlchemy 2 async, Alembic).

Modules: ``models`` (tables), ``engine`` (engines, ``SessionFactory``, transactions),
``migrate`` (Alembic from code), ``users`` (users and tokens), ``datasets``,
``pipelines`` and ``graph_hash`` (pipeline identity), ``jobs`` (the job write path:
``create_job``, ``transition``, ``append_event``, progress, heartbeats), ``job_queries``
(reads, lists, events), ``versions`` and ``aliases`` (model versions and promotion),
``reader`` (owner scoping), ``settings`` (configuration), ``states`` (the job state
machine), ``errors``. Rows become JSON in ``server.serialize``.
Store functions never commit: callers own the transaction (see ``store.engine``).
"""
