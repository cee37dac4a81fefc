"""Schemas of the admin API: token management."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from server.schemas.common import RequestModel, ResponseModel

USER_NAME = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")


class TokenOut(ResponseModel):
    """An API token as admins see it: never the token itself, only its prefix."""

    id: str
    prefix: str | None = Field(description="The first 8 characters; null for tokens made before they were kept.")
    user_id: str
    user_name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    live: bool = Field(description="Neither revoked nor expired.")


class TokenList(ResponseModel):
    items: list[TokenOut]


class TokenListQuery(RequestModel):
    user: str | None = Field(default=None, min_length=1, max_length=200, description="Only this user's tokens.")


class TokenCreateIn(RequestModel):
    """A new token for an existing user."""

    user: str = USER_NAME
    expires_in_days: float | None = Field(
        default=None, gt=0, le=3650, description="The token expires after this many days; null: never."
    )


class TokenCreated(ResponseModel):
    token: str = Field(description="The new token, shown once: only its hash is stored.")
    info: TokenOut


class TokenRevokeQuery(RequestModel):
    """Exactly one of: a token's prefix (or id), or a user name (all of its tokens)."""

    prefix: str | None = Field(default=None, min_length=1, max_length=64)
    user: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_target(self) -> TokenRevokeQuery:
        if (self.prefix is None) == (self.user is None):
            raise ValueError("give exactly one of prefix (one token) and user (all of a user's tokens)")
        return self


class TokensRevoked(ResponseModel):
    revoked: int = Field(description="How many live tokens were revoked.")
