"""Fixtures for the admins' knowledge-folder tests: the knowledge tests' fake embedding and folder."""
from tests.knowledge.conftest import HashEmbeddings, fake_emb, kdir, make_engine  # noqa: F401

__all__ = ["HashEmbeddings"]
