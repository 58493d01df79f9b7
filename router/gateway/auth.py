"""Who may log in: agent, supervisor and connector tokens, checked in constant time.

An agent's token is accepted when its SHA-256 is the ``token_sha256`` in routing.yaml, when it equals
the value of the agent's ``token_env`` variable, or when it is a token signed with the gateway's secret
(the environment variable named by ``gateway.token_secret_env``)::

    v1.<agent id>.<expiry, unix seconds>.<hex HMAC-SHA256(secret, "v1.<agent id>.<expiry>")>

:func:`sign` makes one (``omniroute token AGENT``). Tokens never appear in logs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable

from router.config.model import Agent
from router.gateway.config import Credential


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def sign(agent_id: str, secret: str, ttl: float, *, now: float | None = None) -> str:
    """A signed token for ``agent_id``, valid ``ttl`` seconds."""
    expires = int((time.time() if now is None else now) + ttl)
    body = f"v1.{agent_id}.{expires}"
    return f"{body}.{hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()}"


def check_signed(token: str, agent_id: str, secret: str, now: float) -> bool:
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != "v1" or parts[1] != agent_id or not parts[2].isdigit():
        return False
    body = ".".join(parts[:3])
    good = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return _same(parts[3], good) and int(parts[2]) > now


def agent_token_ok(
    agent: Agent,
    token: str,
    *,
    secret_env: str,
    environ: os._Environ | dict = os.environ,
    clock: Callable[[], float] = time.time,
) -> bool:
    """Whether ``token`` proves ``agent``."""
    if agent.token_sha256 and _same(sha256_hex(token), agent.token_sha256):
        return True
    if agent.token_env and environ.get(agent.token_env) and _same(token, environ[agent.token_env]):
        return True
    secret = environ.get(secret_env, "")
    return bool(secret) and token.startswith("v1.") and check_signed(token, agent.id, secret, clock())


def credential_ok(credential: Credential | None, token: str) -> bool:
    """Supervisors and connectors: the token's SHA-256 is the configured one."""
    return credential is not None and _same(sha256_hex(token), credential.token_sha256)
