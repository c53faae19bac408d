"""Conversation scripts and the terminal simulator against the tiny bot."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from bot.simulator import SimUser
from bot.simulator.repl import run_repl
from bot.simulator.script import ScriptError, load_script, parse_script, run_script

from .test_fake_api import tiny_png

GOOD = """
users:
  admin: {id: 1, name: 王管理, admin: true}
  li: {id: 1001, first_name: 海波, last_name: 李}
groups:
  crew: {title: 余山供电所班组, members: [admin, li]}
steps:
  - {as: admin, send: "/start 8f3a", expect: "start=", save: {code: "start=(\\\\w+)"}}
  - {as: li, send: "/start {code}", expect_re: "欢迎.*8f3a", expect_not: "错误"}
  - {as: li, send: "/menu", expect: [今日安全提示, 已学习]}
  - {as: li, press: "已学习", expect: ["✅", "已记录"]}
  - {as: li, send: "/menu"}
  - {as: li, press: "稍后", expect: "稍后提醒"}
  - {as: li, photo: "{photo}", expect: 收到照片}
  - {as: li, location: [30.25, 120.17], expect: "位置 30.25"}
  - {as: li, sticker: true, expect: 请发送文字}
  - {as: li, send: "好的", reply: true, expect: "echo: 好的"}
  - {as: li, group: crew, send: "@fieldmate_bot 你好", expect: "echo: @fieldmate_bot 你好"}
"""


def write(tmp_path, text: str, name: str = "s.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


async def test_script_passes(bot_env, tmp_path):
    server, driver, _ = bot_env
    photo = tmp_path / "pole.png"
    photo.write_bytes(tiny_png())
    script = load_script(write(tmp_path, GOOD.replace("{photo}", str(photo))))
    assert script.admin_ids == [1]
    assert script.users["admin"].first_name == "王管理"
    lines: list[str] = []
    assert await run_script(script, driver, out=lines.append), "\n".join(lines)
    text = "\n".join(lines)
    assert "王管理 ▶ /start 8f3a" in text
    assert "李海波 ▶ /start 8f3a" in text  # {code} substituted
    assert "bot ◀ 今日安全提示：登高作业必须系安全带  [已学习] [稍后] [官网]" in text
    assert "bot ◀ (edited) 今日安全提示" in text
    assert "bot ◀ (toast) 已记录" in text and "bot ◀ (alert) 稍后提醒" in text
    assert lines[-1].startswith("✓")


async def test_script_fails_with_transcript(bot_env, tmp_path):
    _, driver, _ = bot_env
    script = load_script(write(tmp_path, """
        users: {li: {id: 1001, name: 海波}}
        timeout: 1
        steps:
          - {as: li, send: "/start", expect: "欢迎"}
          - {as: li, send: "你好", expect: "不会出现的文字"}
          - {as: li, send: "never sent"}
    """))
    lines: list[str] = []
    assert await run_script(script, driver, out=lines.append) is False
    text = "\n".join(lines)
    assert "海波 ▶ 你好" in text and "bot ◀ echo: 你好" in text
    assert "step 2" in lines[-1] and "'不会出现的文字'" in lines[-1] and "echo: 你好" in lines[-1]
    assert "never sent" not in text


async def test_script_expect_not_fails(bot_env, tmp_path):
    _, driver, _ = bot_env
    script = parse_script({"users": {"li": {"id": 5, "name": "李"}},
                           "steps": [{"as": "li", "send": "hi", "expect_not": "echo"}]}, "inline")
    lines: list[str] = []
    assert await run_script(script, driver, out=lines.append) is False
    assert "did not expect 'echo'" in lines[-1]


@pytest.mark.parametrize("doc, message", [
    ({"users": {"li": {"id": 1}}, "steps": [{"as": "zhang", "send": "x"}]}, "step 1: unknown user 'zhang'"),
    ({"users": {"li": {"id": 1}}, "steps": [{"as": "li"}]}, "step 1: needs exactly one action"),
    ({"users": {"li": {"id": 1}}, "steps": [{"as": "li", "send": "x"}, {"as": "li", "location": [1]}]},
     "step 2: `location` must be [latitude, longitude]"),
    ({"users": {"li": {"id": 1}}, "steps": [{"as": "li", "send": "x", "save": {"c": "nogroup"}}]},
     "capturing group"),
    ({"users": {"li": {"name": "x"}}, "steps": [{"as": "li", "send": "x"}]}, "`id` (an integer) is required"),
    ({"users": {"li": {"id": 1}}, "steps": [{"as": "li", "send": "x", "expct": "y"}]}, "unknown key(s): expct"),
    ([1, 2], "must be a mapping"),
])
def test_malformed_scripts(doc, message):
    with pytest.raises(ScriptError) as exc:
        parse_script(doc, "bad.yaml")
    assert message in str(exc.value) and str(exc.value).startswith("bad.yaml")


def test_invalid_yaml(tmp_path):
    with pytest.raises(ScriptError, match="invalid YAML"):
        load_script(write(tmp_path, "users: [\n"))


async def test_repl(bot_env, tmp_path):
    server, driver, _ = bot_env
    photo = tmp_path / "p.png"
    photo.write_bytes(tiny_png())
    inputs = iter(["/menu", "/press 1", "/as wang", "你好", "/users", "/loc 30.1 120.2",
                   f"/photo {photo}", "/press 9", "/quit"])
    lines: list[str] = []

    async def fake_input(prompt: str) -> str:
        return next(inputs)

    users = {"li": SimUser(id=1001, first_name="海波")}
    await asyncio.wait_for(run_repl(driver, users, "li", out=lines.append, input_fn=fake_input), 20)
    text = "\n".join(lines)
    assert "[1] 已学习   [2] 稍后   [3] 官网 (https://example.com/)" in text or "[1] 已学习" in text
    assert "bot ◀ (edited) 今日安全提示：登高作业必须系安全带 ✅ 已学习" in text
    assert "bot ◀ (toast) 已记录" in text
    assert "created user wang" in text
    assert "bot ◀ echo: 你好" in text
    assert "位置 30.10,120.20" in text
    assert "收到照片" in text
    assert "! no button 9" in text
    assert server.users[1002].first_name == "wang"
