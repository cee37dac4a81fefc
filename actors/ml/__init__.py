"""The ML side: from a pipeline graph and a dataset file to a fitted pipeline, metrics and insights.

Nothing here knows about jobs, brokers, databases or configuration: callers pass plain
values (:mod:`actors.ml.options`) and a checkpoint, and get results or an
:class:`~actors.errors.ModelError`.
"""
