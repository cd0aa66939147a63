"""Alpaca API credentials: from the environment, or from an AWS Secrets Manager secret.

The values never leave this object except as request headers: its repr hides them, and
every message names the settings, never their values.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

KEY_ID_VAR = "APCA_API_KEY_ID"
SECRET_KEY_VAR = "APCA_API_SECRET_KEY"
# A Secrets Manager secret (name or ARN) holding {"APCA_API_KEY_ID": ..., "APCA_API_SECRET_KEY": ...}.
SECRET_ID_VAR = "VOL_PIPELINE_ALPACA_SECRET"
CREDENTIAL_SETTINGS = f"{KEY_ID_VAR} and {SECRET_KEY_VAR} (or the secret named by {SECRET_ID_VAR})"


class CredentialsError(RuntimeError):
    """No usable credentials; the message names the settings to fix."""


@dataclass(frozen=True)
class AlpacaCredentials:
    key_id: str = field(repr=False)
    secret_key: str = field(repr=False)

    def headers(self) -> dict[str, str]:
        return {"APCA-API-KEY-ID": self.key_id, "APCA-API-SECRET-KEY": self.secret_key}


def load_credentials(environ: dict[str, str] | None = None) -> AlpacaCredentials:
    """The environment's pair wins; otherwise the Secrets Manager secret, read once per process."""
    env = os.environ if environ is None else environ
    key_id, secret_key = env.get(KEY_ID_VAR, "").strip(), env.get(SECRET_KEY_VAR, "").strip()
    if key_id and secret_key:
        return AlpacaCredentials(key_id, secret_key)
    if key_id or secret_key:
        missing = SECRET_KEY_VAR if key_id else KEY_ID_VAR
        raise CredentialsError(f"Alpaca credentials: {missing} is not set (set both {KEY_ID_VAR} and {SECRET_KEY_VAR})")
    secret_id = env.get(SECRET_ID_VAR, "").strip()
    if not secret_id:
        raise CredentialsError(f"Alpaca credentials missing: set {CREDENTIAL_SETTINGS}")
    from vol_pipeline.secrets import SecretError, secret_string

    try:
        values = json.loads(secret_string(secret_id))
    except SecretError as error:
        raise CredentialsError(str(error)) from None
    except ValueError:
        raise CredentialsError(f"secret {secret_id!r} is not JSON with {KEY_ID_VAR} and {SECRET_KEY_VAR}") from None
    if not isinstance(values, dict) or not values.get(KEY_ID_VAR) or not values.get(SECRET_KEY_VAR):
        raise CredentialsError(f"secret {secret_id!r} must hold JSON with {KEY_ID_VAR} and {SECRET_KEY_VAR}")
    return AlpacaCredentials(str(values[KEY_ID_VAR]), str(values[SECRET_KEY_VAR]))
