"""Errors of the /v1 API in OpenAI's format (``{"error": {"message", "type", "param", "code"}}``) with the status
OpenAI would use, so that SDKs raise their usual exception classes (401 AuthenticationError, 403
PermissionDeniedError, 429 RateLimitError, ...). Messages never contain prompt text or a key."""

from __future__ import annotations

import json

from starlette.responses import Response

MISSING_KEY = "Missing API key: send it as 'Authorization: Bearer <virtual key>'."
INVALID_KEY = "Incorrect API key provided."
REVOKED_KEY = "This API key has been revoked."
EXPIRED_KEY = "This API key has expired."
MODEL_NOT_FOUND = "The model '{model}' does not exist on this gateway."
MODEL_NOT_ALLOWED = "This API key may not use the model '{model}'."
WRONG_ENDPOINT = "The model '{model}' does not serve {endpoint}."
BODY_TOO_LARGE = "The request body exceeds the gateway's limit of {limit} bytes."
INVALID_JSON = "The request body is not valid JSON."
INVALID_BODY = "Invalid request: {detail}."
GUARD_UNAVAILABLE_MESSAGE = "A guardrail check failed and this policy does not let requests through unchecked."
UPSTREAM_FAILED = "The upstream model provider failed ({status})."
INTERNAL = "The gateway failed to handle this request."
NOT_READY = "The gateway is starting or its configuration could not be loaded yet; try again shortly."


class GatewayError(Exception):
    """An error answered to the caller as OpenAI's error JSON with ``status`` and optional headers."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> Response:
        return Response(json.dumps(self.body()), status_code=self.status, media_type="application/json",
                        headers=self.headers)


def guard_unavailable(message: str = GUARD_UNAVAILABLE_MESSAGE) -> GatewayError:
    """503: the caller did nothing wrong, the request was refused unchecked (a policy fails closed)."""
    return GatewayError(503, message, type="server_error", code="guardrail_unavailable",
                        headers={"x-should-retry": "false"})


def unauthorized(message: str) -> GatewayError:
    return GatewayError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def retry_after_headers(retry_after: float | None) -> dict[str, str]:
    """Whole seconds, rounded up, as HTTP's Retry-After wants them (and the SDKs honour)."""
    if retry_after is None:
        return {}
    return {"Retry-After": str(max(1, int(-(-retry_after // 1))))}
