"""API tokens: creation, lookup and revocation.

A token is ``hl_`` + 32 random URL-safe characters. Only its SHA-256 is stored,
so a stolen database does not hand out access; the token is printed once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.models import ApiToken, utcnow

__all__ = ["Role", "TokenInfo", "create_token", "hash_token", "list_tokens", "lookup_token", "revoke_token"]


class Role(StrEnum):
    """Roles in increasing power; each may do what the ones before it may."""

    VIEWER = "viewer"
    AGENT = "agent"
    DESIGNER = "designer"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """Who a valid token speaks for."""

    id: int
    tenant: str
    role: Role
    name: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(session: AsyncSession, tenant: str, role: Role, name: str) -> tuple[str, ApiToken]:
    """Store a new token's hash; returns the token text, which is never stored."""
    token = "hl_" + secrets.token_urlsafe(24)
    row = ApiToken(tenant=tenant, role=str(role), name=name, token_hash=hash_token(token), prefix=token[:8])
    session.add(row)
    await session.flush()
    return token, row


async def lookup_token(session: AsyncSession, token: str) -> TokenInfo | None:
    """The token's owner, or None when unknown or revoked."""
    row = (
        await session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)))
    ).scalar_one_or_none()
    return TokenInfo(row.id, row.tenant, Role(row.role), row.name) if row else None


async def list_tokens(session: AsyncSession, tenant: str | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if tenant:
        query = query.where(ApiToken.tenant == tenant)
    return list((await session.execute(query)).scalars())


async def revoke_token(session: AsyncSession, token_id: int) -> bool:
    """Mark a token revoked; False when there is no such active token."""
    row = await session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True
