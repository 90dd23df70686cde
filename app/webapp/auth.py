"""Bearer-token check for the write endpoints."""

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from webapp.dependencies import SettingsDep

bearer_scheme = HTTPBearer(auto_error=False, description="The value of APP_API_TOKEN.")


def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """Reject the request with 401 unless it carries ``Authorization: Bearer <APP_API_TOKEN>``."""
    expected = settings.api_token.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials else b""
    if not (credentials and secrets.compare_digest(given, expected)):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="A valid bearer token is required.",
            headers={"WWW-Authenticate": "Bearer"},
        )
