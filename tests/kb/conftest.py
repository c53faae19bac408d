"""Fixtures for the admins' knowledge-folder tests: the knowledge tests' fake embedding and folder."""
from tests.knowledge.conftest import HashEmbeddings, answer_everything, fake_emb, kdir, make_engine  # noqa: F401
from tests.reports.conftest import world  # noqa: F401

__all__ = ["HashEmbeddings"]
