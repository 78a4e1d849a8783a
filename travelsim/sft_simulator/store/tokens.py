"""Access and refresh tokens: opaque random strings in ``sim_tokens``, on the wall clock."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import delete, insert, select, update

from .core import StoreCore
from .schema import sim_tokens


class TokenOps(StoreCore):
    """Issue, check and expire tokens (wall-clock epoch seconds, not the simulator clock)."""

    def issue_tokens(self, access_ttl: float, refresh_ttl: float) -> tuple[str, str]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        wall = time.time()
        with self.tx() as conn:
            conn.execute(delete(sim_tokens).where(sim_tokens.c.expires_at < wall - 86_400))
            conn.execute(
                insert(sim_tokens),
                [
                    {"token": access, "kind": "access", "expires_at": wall + access_ttl},
                    {"token": refresh, "kind": "refresh", "expires_at": wall + refresh_ttl},
                ],
            )
        return access, refresh

    def check_token(self, token: str, kind: str) -> str:
        """Return "ok", "expired" or "invalid" (wall clock, not the simulator clock)."""
        with self.tx() as conn:
            row = conn.execute(
                select(sim_tokens.c.kind, sim_tokens.c.expires_at).where(
                    sim_tokens.c.token == token
                )
            ).first()
        if row is None or row.kind != kind:
            return "invalid"
        return "ok" if time.time() < row.expires_at else "expired"

    def expire_access_tokens(self) -> int:
        wall = time.time()
        with self.tx() as conn:
            return conn.execute(
                update(sim_tokens)
                .where(sim_tokens.c.kind == "access", sim_tokens.c.expires_at > wall)
                .values(expires_at=wall)
            ).rowcount
