"""YAML conversation scripts: run a conversation against the bot and check what it says.

Format (extend, don't break)::

    users:                       # name -> user; `name` is the first name, `admin: true` marks admins
      admin: {id: 1, name: 王管理, admin: true}
      li:    {id: 1001, first_name: 海波, last_name: 李, username: lihb, language_code: zh-hans}
    groups:                      # optional; a step's `group:` may also name an undeclared group
      crew: {title: 余山供电所班组, members: [admin, li]}
    timeout: 10                  # optional default seconds per expectation
    clock: "2026-11-20 10:00"    # optional: the bot's clock starts here (local time) and stands still;
                                 # without it the bot runs on the real time
    steps:
      - {as: admin, send: "/invite 余山供电所 member", expect: "start=", save: {code: "start=(\\\\w+)"}}
      - {as: li, send: "/start {code}", expect_re: "姓名|名字"}
      - {as: li, press: "已学习"}                       # inline button (or reply-keyboard button) by text
      - {as: li, photo: "tests/data/pole.jpg", caption: "杆塔"}
      - {as: li, document: "docs/a.pdf"}
      - {as: li, location: [30.25, 120.17]}
      - {as: li, sticker: true}
      - {as: li, voice: true}
      - {as: li, group: crew, send: "@fieldmate_bot 你好", expect: [你好, 帮助]}
      - {as: li, send: "好的", reply: true}              # reply to the bot's last message
      - {as: li, send: "/help", expect_not: "/invite", timeout: 5}
      - {at: "2026-11-23 08:45"}                       # move the bot's clock forward (local time) …
      - {as: chen, advance: "2d", expect_re: "周报"}    # … or by 2d / 3h / 30m, alone or with an action

``at``/``advance`` first run whatever the scheduler had due by then (bot/simulator/timetravel.py: daily
items, reminders, digests) and then do the step's action, if any; expectations see what arrived in the chat.

Expectations look at everything the bot sent or edited in that chat since the step began
(texts, captions, inline button labels, reply-keyboard labels) and, for ``press``, the text
of the callback answer (toast/alert). ``expect``/``expect_re``/``save`` wait (condition
based) up to the timeout for matching output; ``expect_not`` is checked once the step has
settled. ``{var}`` is replaced by the first group of a ``save`` regex (``{{`` for a literal
brace).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable

import yaml

from .driver import BotMessage, SimDriver
from .fake_api import SimChat, SimUser

ACTIONS = ("send", "press", "photo", "document", "location", "sticker", "voice", "contact")
MOVES = ("at", "advance")  # clock steps (bot/simulator/timetravel.py)
STEP_KEYS = set(ACTIONS) | set(MOVES) | {"as", "expect", "expect_re", "expect_not", "save", "group", "timeout",
                                         "caption", "reply", "name", "note"}
USER_KEYS = {"id", "name", "first_name", "last_name", "username", "language_code", "admin", "role"}


class ScriptError(ValueError):
    """A malformed script: the message names the file and the step."""


@dataclass
class ScriptUser:
    key: str
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "zh-hans"
    admin: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def sim_user(self) -> SimUser:
        return SimUser(id=self.id, first_name=self.first_name, last_name=self.last_name,
                       username=self.username, language_code=self.language_code)

    @property
    def display(self) -> str:
        return f"{self.last_name or ''}{self.first_name}" if _is_cjk(self.first_name) else \
            (f"{self.first_name} {self.last_name}" if self.last_name else self.first_name)


@dataclass
class ScriptGroup:
    key: str
    title: str
    members: list[str] = field(default_factory=list)
    id: int | None = None


@dataclass
class Step:
    number: int  # 1-based
    user: str | None  # None: a clock step alone
    action: str | None  # one of ACTIONS; None: a clock step alone
    value: Any
    expect: list[str] = field(default_factory=list)
    expect_re: list[str] = field(default_factory=list)
    expect_not: list[str] = field(default_factory=list)
    save: dict[str, str] = field(default_factory=dict)
    group: str | None = None
    timeout: float | None = None
    caption: str | None = None
    reply: bool = False
    name: str | None = None
    at: str | None = None  # move the clock to this local time first
    advance: str | None = None  # … or forward by this much

    def describe(self) -> str:
        if self.action is None:
            return f"step {self.number} (clock {self.at or '+' + str(self.advance)})"
        value = self.value if self.action not in ("sticker", "voice") else ""
        where = f" in {self.group}" if self.group else ""
        return f"step {self.number} ({self.user}{where}: {self.action} {value!r})".replace(" ''", "")


@dataclass
class Script:
    path: str
    users: dict[str, ScriptUser]
    steps: list[Step]
    groups: dict[str, ScriptGroup] = field(default_factory=dict)
    timeout: float = 10.0
    clock: datetime | None = None  # local (naive) start time of the bot's clock, when the script sets one

    @property
    def admin_ids(self) -> list[int]:
        return [u.id for u in self.users.values() if u.admin]

    def sim_users(self) -> dict[str, SimUser]:
        return {k: u.sim_user() for k, u in self.users.items()}


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _as_list(value: Any, where: str, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, int, float)):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise ScriptError(f"{where}: `{key}` must be a string or a list of strings")


def parse_script(data: Any, path: str = "<script>") -> Script:
    """Validate a loaded YAML document and build a :class:`Script`."""
    if not isinstance(data, dict):
        raise ScriptError(f"{path}: the script must be a mapping with `users` and `steps`")
    unknown = set(data) - {"users", "steps", "groups", "timeout", "name", "description", "clock"}
    if unknown:
        raise ScriptError(f"{path}: unknown top-level key(s): {', '.join(sorted(unknown))}")
    users_raw = data.get("users") or {}
    if not isinstance(users_raw, dict) or not users_raw:
        raise ScriptError(f"{path}: `users` must be a non-empty mapping of name -> {{id, name}}")
    users: dict[str, ScriptUser] = {}
    seen_ids: set[int] = set()
    for key, spec in users_raw.items():
        where = f"{path}: user {key!r}"
        if not isinstance(spec, dict):
            raise ScriptError(f"{where}: must be a mapping like {{id: 1001, name: 海波}}")
        bad = set(spec) - USER_KEYS
        if bad:
            raise ScriptError(f"{where}: unknown key(s): {', '.join(sorted(bad))}")
        if not isinstance(spec.get("id"), int):
            raise ScriptError(f"{where}: `id` (an integer) is required")
        if spec["id"] in seen_ids:
            raise ScriptError(f"{where}: id {spec['id']} is used twice")
        seen_ids.add(spec["id"])
        first = spec.get("first_name") or spec.get("name") or str(key)
        users[str(key)] = ScriptUser(
            key=str(key), id=spec["id"], first_name=str(first), last_name=spec.get("last_name"),
            username=spec.get("username"), language_code=spec.get("language_code", "zh-hans"),
            admin=bool(spec.get("admin", False)), extra={k: spec[k] for k in ("role",) if k in spec},
        )
    groups: dict[str, ScriptGroup] = {}
    for key, spec in (data.get("groups") or {}).items():
        where = f"{path}: group {key!r}"
        spec = spec or {}
        if not isinstance(spec, dict):
            raise ScriptError(f"{where}: must be a mapping like {{title: 班组, members: [li]}}")
        members = spec.get("members") or list(users)
        for m in members:
            if m not in users:
                raise ScriptError(f"{where}: unknown member {m!r}")
        gid = spec.get("id")
        if gid is not None and (not isinstance(gid, int) or gid >= 0):
            raise ScriptError(f"{where}: `id` must be a negative integer")
        groups[str(key)] = ScriptGroup(str(key), str(spec.get("title") or key), list(members), gid)
    steps_raw = data.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise ScriptError(f"{path}: `steps` must be a non-empty list")
    default_timeout = data.get("timeout", 10.0)
    if not isinstance(default_timeout, (int, float)) or default_timeout <= 0:
        raise ScriptError(f"{path}: `timeout` must be a positive number")
    clock = data.get("clock")
    if clock is not None:
        try:
            clock = datetime.strptime(str(clock), "%Y-%m-%d %H:%M")
        except ValueError:
            raise ScriptError(f"{path}: `clock` must be a local time like \"2026-11-20 10:00\"") from None
    steps = [_parse_step(i, raw, path, users) for i, raw in enumerate(steps_raw, start=1)]
    for step in steps:
        if step.group and step.group not in groups:
            groups[step.group] = ScriptGroup(step.group, step.group, list(users))
    return Script(path=path, users=users, steps=steps, groups=groups, timeout=float(default_timeout), clock=clock)


def _parse_step(number: int, raw: Any, path: str, users: dict[str, ScriptUser]) -> Step:
    where = f"{path}: step {number}"
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: must be a mapping like {{as: li, send: 你好}}")
    bad = set(raw) - STEP_KEYS
    if bad:
        raise ScriptError(f"{where}: unknown key(s): {', '.join(sorted(bad))}")
    moves = _parse_moves(raw, where)
    actions = [a for a in ACTIONS if a in raw]
    expects = any(k in raw for k in ("expect", "expect_re", "expect_not", "save"))
    if moves and not actions and not expects and "as" not in raw:
        return Step(number=number, user=None, action=None, value=None, **moves)
    who = raw.get("as")
    if who is None:
        raise ScriptError(f"{where}: `as` (which user acts) is required")
    if str(who) not in users:
        raise ScriptError(f"{where}: unknown user {who!r} (known: {', '.join(users)})")
    if len(actions) > 1 or (not actions and not moves):
        raise ScriptError(f"{where}: needs exactly one action of {', '.join(ACTIONS)}"
                          + (f" (found {', '.join(actions)})" if actions else ""))
    action = actions[0] if actions else None
    value = raw[action] if action else None
    if action in ("send", "press", "photo", "document", "contact"):
        if not isinstance(value, (str, int, float)) or str(value) == "":
            raise ScriptError(f"{where}: `{action}` must be a non-empty string")
        value = str(value)
    elif action == "location":
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, (int, float)) for v in value)):
            raise ScriptError(f"{where}: `location` must be [latitude, longitude]")
    elif action in ("sticker", "voice"):
        if value is not True:
            raise ScriptError(f"{where}: `{action}` must be `true`")
    save = raw.get("save") or {}
    if not isinstance(save, dict) or not all(isinstance(v, str) for v in save.values()):
        raise ScriptError(f"{where}: `save` must map a variable name to a regex")
    for var, pattern in save.items():
        if not re.fullmatch(r"\w+", str(var)):
            raise ScriptError(f"{where}: bad variable name {var!r}")
        try:
            if re.compile(pattern).groups < 1:
                raise ScriptError(f"{where}: `save.{var}` regex needs a capturing group")
        except re.error as e:
            raise ScriptError(f"{where}: `save.{var}` is not a valid regex: {e}") from None
    expect_re = _as_list(raw.get("expect_re"), where, "expect_re")
    for pattern in expect_re:
        try:
            re.compile(pattern)
        except re.error as e:
            raise ScriptError(f"{where}: `expect_re` {pattern!r} is not a valid regex: {e}") from None
    timeout = raw.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ScriptError(f"{where}: `timeout` must be a positive number")
    if raw.get("reply") and action != "send":
        raise ScriptError(f"{where}: `reply: true` only works with `send`")
    return Step(
        number=number, user=str(who), action=action, value=value,
        expect=_as_list(raw.get("expect"), where, "expect"), expect_re=expect_re,
        expect_not=_as_list(raw.get("expect_not"), where, "expect_not"),
        save={str(k): v for k, v in save.items()},
        group=str(raw["group"]) if raw.get("group") is not None else None,
        timeout=float(timeout) if timeout is not None else None,
        caption=str(raw["caption"]) if raw.get("caption") is not None else None,
        reply=bool(raw.get("reply", False)), name=raw.get("name") or raw.get("note"), **moves,
    )


def _parse_moves(raw: dict, where: str) -> dict[str, str]:
    from .timetravel import TimeTravelError, parse_duration, parse_local

    moves = {key: str(raw[key]) for key in MOVES if key in raw}
    if len(moves) > 1:
        raise ScriptError(f"{where}: use `at` or `advance`, not both")
    try:
        if "at" in moves:
            parse_local(moves["at"], None)
        if "advance" in moves:
            parse_duration(moves["advance"])
    except TimeTravelError as e:
        raise ScriptError(f"{where}: {e}") from None
    return moves


def load_script(path: str | Path) -> Script:
    """Read and validate a YAML conversation script. Raises :class:`ScriptError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScriptError(f"{p}: cannot read: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ScriptError(f"{p}: invalid YAML: {e}") from None
    return parse_script(data, str(p))


# ------------------------------------------------------------------------------ running


_VAR_RE = re.compile(r"\{\{|\}\}|\{(\w+)\}")


def substitute(text: str, variables: dict[str, str], where: str = "") -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        name = m.group(1)
        if name not in variables:
            raise ScriptError(f"{where}: variable {{{name}}} is not set by an earlier `save`")
        return variables[name]

    return _VAR_RE.sub(repl, text)


def _haystack(messages: list[BotMessage], answer: dict | None = None) -> str:
    parts = [answer["text"]] if answer and answer.get("text") else []
    for m in messages:
        parts.append(m.text)
        parts.extend(m.button_texts)
        for row in m.reply_keyboard or []:
            parts.extend(row)
    return "\n".join(parts)


def format_bot(m: BotMessage) -> str:
    text = m.text.replace("\n", "\n        ")
    kind = "" if m.kind == "text" else f"[{m.kind}] "
    edited = "(edited) " if m.edited else ""
    buttons = ""
    if m.buttons:
        buttons = "  " + " ".join(f"[{b.text}]" for b in m.flat_buttons())
    if m.reply_keyboard:
        buttons += "\n        ⌨ " + " ".join(f"[{t}]" for row in m.reply_keyboard for t in row)
    if m.deleted:
        edited = "(deleted) " + edited
    return f"bot ◀ {edited}{kind}{text}{buttons}"


async def run_script(script: Script, driver: SimDriver, out: Callable[[str], Any] = print,
                     travel: Callable[..., Awaitable[datetime]] | None = None) -> bool:
    """Run ``script`` through ``driver``; print a transcript with ``out``. Returns True when
    every expectation was met, False at the first unmet one (after printing why).
    ``travel(at=…, advance=…)`` moves the bot's clock for clock steps (bot/simulator/timetravel.py)."""
    server = driver.server
    sim_users = {}
    for key, su in script.users.items():
        sim_users[key] = server.add_user(su.sim_user()) if su.id not in server.users else server.users[su.id]
    chats: dict[str, SimChat] = {}
    for key, g in script.groups.items():
        chats[key] = server.group(g.title) or server.add_group(
            g.title, [sim_users[m] for m in g.members], chat_id=g.id)
    variables: dict[str, str] = {}
    for step in script.steps:
        since = driver.mark()
        if step.at or step.advance:
            if travel is None:
                out(f"✗ {script.path}: {step.describe()}: this runner cannot move the bot's clock")
                return False
            try:
                moved = await travel(at=step.at, advance=step.advance)
            except ValueError as e:
                out(f"✗ {script.path}: {step.describe()}: {e}")
                return False
            out(f"⏱ {moved:%Y-%m-%d %H:%M (%a)}")
        if step.user is None:
            continue
        who = script.users[step.user]
        user = sim_users[step.user]
        chat = chats[step.group] if step.group else None
        chat_id = chat.id if chat else user.id
        timeout = step.timeout or script.timeout
        where = f"{script.path}: {step.describe()}"
        try:
            value = step.value
            if isinstance(value, str):
                value = substitute(value, variables, where)
            expect = [substitute(e, variables, where) for e in step.expect]
            expect_re = [substitute(e, variables, where) for e in step.expect_re]
            expect_not = [substitute(e, variables, where) for e in step.expect_not]
        except ScriptError as e:
            out(f"✗ {e}")
            return False
        label = f"[{chats[step.group].title}] " if step.group else ""
        if step.action is not None:
            out(f"{who.display} ▶ {label}{_describe_action(step, value)}")
            try:
                await _perform(driver, step, user, chat, value, timeout, chat_id)
            except (LookupError, TimeoutError, OSError) as e:
                out(f"✗ {script.path}: {step.describe()}: {e}")
                return False
        printed: set[tuple[int, int]] = set()
        uid = driver.last_update_id if step.action == "press" else None

        def answer() -> dict | None:
            return driver.callback_answer(uid) if uid is not None else None

        def hay_now() -> str:
            return _haystack(driver.messages(chat_id, since), answer())

        def show_new() -> None:
            a = answer()
            if a and a.get("text") and (-1, -1) not in printed:
                printed.add((-1, -1))
                out(("  " if step.group else "") + f"bot ◀ ({'alert' if a['show_alert'] else 'toast'}) {a['text']}")
            for m in driver.messages(chat_id, since):
                key = (m.message_id, m.seq)
                if key not in printed:
                    printed.add(key)
                    out(("  " if step.group else "") + format_bot(m))

        def met() -> bool:
            hay = hay_now()
            return (all(e in hay for e in expect) and all(re.search(p, hay) for p in expect_re)
                    and all(re.search(p, hay) for p in step.save.values()))

        ok = True
        if not met():
            try:
                await server.wait_for(met, timeout)
            except TimeoutError:
                ok = False
            else:
                await driver.server.wait_quiet(driver.quiet, timeout)
        show_new()
        hay = hay_now()
        if not ok:
            missing = [f"{e!r}" for e in expect if e not in hay]
            missing += [f"/{p}/" for p in expect_re if not re.search(p, hay)]
            missing += [f"save {v}: /{p}/" for v, p in step.save.items() if not re.search(p, hay)]
            out(f"✗ {script.path}: {step.describe()}: expected {', '.join(missing)} within {timeout:g}s; "
                f"got: {_got(driver.messages(chat_id, since), answer())}")
            return False
        bad = [e for e in expect_not if e in hay]
        if bad:
            out(f"✗ {script.path}: {step.describe()}: did not expect {', '.join(map(repr, bad))}; "
                f"got: {_got(driver.messages(chat_id, since), answer())}")
            return False
        for var, pattern in step.save.items():
            m = re.search(pattern, hay)
            assert m is not None
            variables[var] = m.group(1)
    out(f"✓ {script.path}: {len(script.steps)} steps passed")
    return True


def _got(messages: list[BotMessage], answer: dict | None = None) -> str:
    toast = [f"({'alert' if answer['show_alert'] else 'toast'}) {answer['text']}"] \
        if answer and answer.get("text") else []
    if not messages and not toast:
        return "(no bot output)"
    return " | ".join(toast + [format_bot(m)[len("bot ◀ "):].replace("\n", " ⏎ ") for m in messages])


def _describe_action(step: Step, value: Any) -> str:
    if step.action == "send":
        return f"↩ {value}" if step.reply else str(value)
    if step.action == "press":
        return f"[{value}]"
    if step.action in ("photo", "document"):
        return f"({step.action} {value})" + (f" {step.caption}" if step.caption else "")
    if step.action == "location":
        return f"(location {value[0]}, {value[1]})"
    if step.action == "contact":
        return f"(contact {value})"
    return f"({step.action})"


async def _perform(driver: SimDriver, step: Step, user: SimUser, chat: SimChat | None, value: Any,
                   timeout: float, chat_id: int) -> None:
    if step.action == "send":
        reply_to = None
        if step.reply:
            last = driver.last(chat_id)
            if last is None:
                raise LookupError("`reply: true` but the bot has not written in this chat")
            reply_to = last.message_id
        await driver.send(user, value, chat, reply_to=reply_to, timeout=timeout)
    elif step.action == "press":
        await driver.press(user, value, chat, timeout=timeout)
    elif step.action == "photo":
        await driver.photo(user, value, step.caption, chat, timeout=timeout)
    elif step.action == "document":
        await driver.document(user, value, step.caption, chat, timeout=timeout)
    elif step.action == "location":
        await driver.location(user, value[0], value[1], chat, timeout=timeout)
    elif step.action == "sticker":
        await driver.sticker(user, chat, timeout=timeout)
    elif step.action == "voice":
        await driver.voice(user, chat, timeout=timeout)
    elif step.action == "contact":
        await driver.contact(user, value, chat, timeout=timeout)
