"""Bearer-token protection: write endpoints always, read endpoints when asked to.

The token comes from the environment, ``EVIDENCE_HUB_API_TOKEN`` (or ``create_app(api_token=...)``);
``EVIDENCE_HUB_API_PROTECT_READS=true`` makes read endpoints ask for it too. Without a token the
write endpoints are switched off (403), never open.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

TOKEN_ENV = "EVIDENCE_HUB_API_TOKEN"
PROTECT_READS_ENV = "EVIDENCE_HUB_API_PROTECT_READS"

bearer = HTTPBearer(auto_error=False, description=f"The API token ({TOKEN_ENV} on the server)")


@dataclass(frozen=True)
class AuthConfig:
    """The configured token (None: writes off) and whether reads need it too."""

    token: str | None
    protect_reads: bool = False

    @classmethod
    def from_env(cls) -> "AuthConfig":
        """Read :data:`TOKEN_ENV` and :data:`PROTECT_READS_ENV`."""
        token = os.environ.get(TOKEN_ENV) or None
        reads = os.environ.get(PROTECT_READS_ENV, "").strip().lower() in ("1", "true", "yes", "on")
        return cls(token=token, protect_reads=reads)


def _check(request: Request, credentials: HTTPAuthorizationCredentials | None) -> None:
    token: str | None = request.app.state.auth.token
    if token is None:
        raise HTTPException(403, f"this endpoint is switched off: start the server with {TOKEN_ENV} set")
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise HTTPException(401, "a valid bearer token is required (header 'Authorization: Bearer <token>')",
                            headers={"WWW-Authenticate": "Bearer"})


def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    """Dependency of write endpoints: the bearer token must match."""
    _check(request, credentials)


def read_access(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    """Dependency of read endpoints: the bearer token must match when reads are protected."""
    if request.app.state.auth.protect_reads:
        _check(request, credentials)
