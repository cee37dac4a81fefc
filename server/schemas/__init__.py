"""Pydantic request and response schemas of the REST API.

The handlers validate with these models and :mod:`server.openapi` documents the same
models, so the served OpenAPI document cannot drift from what the server does.
"""
