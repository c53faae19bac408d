"""The fake Bot API server fixtures of the delivery tests, for the digest's sending test."""
from tests.daily.conftest import api_bot, server  # noqa: F401
