"""What a bar source raises when it cannot deliver bars right now (the message says why)."""

from vol_pipeline.sources.alpaca_client import FeedError
from vol_pipeline.sources.alpaca_credentials import CredentialsError

SOURCE_ERRORS = (FeedError, CredentialsError)
