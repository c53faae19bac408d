"""Daily-item lists (knowledge/daily/*.yaml) uploaded by an admin in chat: checked item by item beside the
other lists before anything is written; problems come back with file and line; a bad file never replaces a
good one; a good one is saved atomically and synced into the daily items."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import daily_items, kb
from bot.services.errors import DomainError
from bot.simulator.driver import SimDriver
from bot.simulator.fake_api import FakeTelegramServer
from storage.models import AuditEntry, DailyItem
from tests.kb.files import EXE
from tests.kb.test_e2e import admin
from tests.reports.helpers import ADMIN
from tests.reports.test_e2e import running_bot, step

LIMITS = kb.Limits(max_bytes=1024 * 1024, max_pdf_pages=10)
GOOD = """- id: up-001
  kind: 提示
  text: 雨天巡线穿绝缘靴。
- id: up-002
  kind: 禁令
  text: 严禁约时停送电。
"""
BAD_KIND = GOOD.replace("kind: 禁令", "kind: 随便")  # line 5


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "daily"
    path.mkdir()
    (path / "其他.yaml").write_text("- id: other-1\n  kind: 安规\n  text: 停电、验电、装设接地线。\n", "utf-8")
    return path


def test_a_bad_list_is_refused_with_file_and_line_and_the_good_one_stays(folder):
    (folder / "上传.yaml").write_text(GOOD, "utf-8")
    with pytest.raises(DomainError) as refused:
        kb.save_daily_list(folder, "上传.yaml", BAD_KIND.encode(), LIMITS)
    assert refused.value.code == "daily_list_invalid" and "上传.yaml:5:" in refused.value.params["problems"]
    assert (folder / "上传.yaml").read_text("utf-8") == GOOD
    assert sorted(p.name for p in folder.iterdir()) == ["上传.yaml", "其他.yaml"]  # no temp file left


def test_an_id_already_used_by_another_list_or_invalid_yaml_is_refused(folder):
    with pytest.raises(DomainError) as duplicate:
        kb.save_daily_list(folder, "新.yaml", GOOD.replace("up-002", "other-1").encode(), LIMITS)
    assert "新.yaml:4:" in duplicate.value.params["problems"] and "其他.yaml" in duplicate.value.params["problems"]
    with pytest.raises(DomainError) as broken:
        kb.save_daily_list(folder, "新.yaml", b"- id: x\n  kind: [\n", LIMITS)
    assert "新.yaml:" in broken.value.params["problems"] and "YAML" in broken.value.params["problems"]
    with pytest.raises(DomainError) as binary:
        kb.save_daily_list(folder, "新.yaml", EXE, LIMITS)
    assert binary.value.code == "kb_not_what_it_says"
    assert not (folder / "新.yaml").exists()


def test_a_good_list_replaces_the_old_one_and_loads(folder):
    (folder / "上传.yaml").write_text(BAD_KIND, "utf-8")
    saved, result = kb.save_daily_list(folder, "上传.yaml", GOOD.encode(), LIMITS)
    assert saved.replaced and [item.id for item in result.items] == ["up-001", "up-002"]
    assert {item.id for item in daily_items.load_items(folder).items} == {"other-1", "up-001", "up-002"}


async def test_an_admin_uploads_a_list_in_chat_bad_then_good(app, world):
    daily = app.settings.knowledge_dir / kb.DAILY_FOLDER
    async with FakeTelegramServer() as server:
        driver = SimDriver(server, quiet=0.05, timeout=20)
        driver.user(admin)
        async with running_bot(app, server):
            reply = await step(driver, ADMIN, driver.document(admin, BAD_KIND.encode(), file_name="上传.yaml"), "未保存")
            assert "上传.yaml:5：条目 up-002：kind 必须是" in reply.text and "（已跳过）" in reply.text
            assert "must be" not in reply.text and not (daily / "上传.yaml").exists()
            reply = await step(driver, ADMIN, driver.document(admin, GOOD.encode(), file_name="上传.yaml"), "已保存")
            assert "共 2 条" in reply.text and "新增 2 条" in reply.text
    assert (daily / "上传.yaml").read_text("utf-8") == GOOD
    async with app.sessionmaker() as session:
        ids = set((await session.scalars(select(DailyItem.id).where(DailyItem.active.is_(True)))).all())
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert {"up-001", "up-002"} <= ids and actions.count("kb.daily_list") == 1


def test_every_problem_code_has_a_chat_text_with_the_same_placeholders():
    import string

    from handlers.kb import DAILY_PROBLEMS

    def fields(text: str) -> set[str]:
        return {name for _text, name, _spec, _conv in string.Formatter().parse(text) if name}

    assert set(DAILY_PROBLEMS) == set(daily_items.MESSAGES)
    for code, english in daily_items.MESSAGES.items():
        chat_msgid = DAILY_PROBLEMS[code]._args[0]  # the lazy text's msgid (no i18n context needed)
        assert fields(chat_msgid) == fields(english), code
