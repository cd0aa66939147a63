"""Secrets from AWS Secrets Manager (the environment is the other source; see settings.py).

Values are cached per process and never logged: errors name the secret id, not its value.
"""

from __future__ import annotations

import logging
from functools import lru_cache


def _no_secret_bodies(record: logging.LogRecord) -> bool:
    """botocore logs every response body at DEBUG; drop the ones that carry a secret."""
    return "SecretString" not in str(record.args) and "SecretString" not in str(record.msg)


logging.getLogger("botocore.parsers").addFilter(_no_secret_bodies)


class SecretError(RuntimeError):
    pass


@lru_cache(maxsize=16)
def secret_string(secret_id: str) -> str:
    """The SecretString of `secret_id` (name or ARN). Region and endpoint come from the
    usual AWS variables (AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString")
    except (BotoCoreError, ClientError) as error:
        raise SecretError(f"cannot read secret {secret_id!r} from AWS Secrets Manager: {error}") from None
    if not value:
        raise SecretError(f"secret {secret_id!r} has no SecretString")
    return value
