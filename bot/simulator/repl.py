"""Interactive terminal chat with a bot running against the fake server.

Bot messages are printed as they arrive (in any chat; other chats are labelled), HTML tags
stripped; inline buttons are numbered so ``/press 2`` presses the second one of the newest
message that has buttons in the current chat.
"""

from __future__ import annotations

import asyncio
import shlex
from datetime import datetime
from typing import Any, Awaitable, Callable

from .driver import BotMessage, SimDriver
from .fake_api import SimUser, StoredMessage

HELP = """\
Commands / 命令:
  /as NAME [ID]     switch to user NAME, creating it if new      切换（或新建）用户
  /users            list users                                   列出用户
  /press N | TEXT   press inline button number N or by text      按下内联按钮（编号或文字）
  /photo PATH [caption]   send a photo from a file               发送图片
  /doc PATH [caption]     send a document                        发送文件
  /loc LAT LON      send a location                              发送位置
  /sticker          send a sticker                               发送贴纸
  /voice            send a voice message                         发送语音
  /reply TEXT       reply to the bot's last message              回复机器人最后一条消息
  /clock [TIME|+N]  show the bot's clock, or move it forward      查看或拨快机器人时钟
                    (e.g. /clock 2026-11-23 08:45, /clock +2d, /clock +3h): due jobs run on the way
  /?                this help                                    帮助
  /quit             leave                                        退出
Anything else is sent as text by the current user (bot commands such as /start, /help too);
start a line with // to send a command that the simulator would take, e.g. //users.
其他输入都会以当前用户身份作为文字发送（包括 /start、/help 等机器人命令）；
以 // 开头可把与模拟器同名的命令发给机器人，例如 //users。"""

LOCAL_COMMANDS = {"/as", "/users", "/press", "/photo", "/doc", "/loc", "/sticker", "/voice", "/reply",
                  "/clock", "/?", "/quit", "/exit"}


class Repl:
    def __init__(self, driver: SimDriver, users: dict[str, SimUser], current: str, *,
                 out: Callable[[str], Any] = print,
                 input_fn: Callable[[str], Awaitable[str]] | None = None,
                 travel: Callable[..., Awaitable[datetime]] | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        self.driver = driver
        self.travel, self.now = travel, now  # the bot's clock (/clock); None where the runner has none
        self.server = driver.server
        self.users = dict(users)
        if current not in self.users:
            raise KeyError(f"unknown user {current!r}; known: {', '.join(self.users)}")
        self.current = current
        self.out = out
        self.input_fn = input_fn or _thread_input
        self.numbered: list[tuple[int, int, str, str]] = []  # (chat, msg id, text, data)
        for u in self.users.values():
            self.server.add_user(u) if u.id not in self.server.users else None

    @property
    def user(self) -> SimUser:
        return self.users[self.current]

    def _on_bot_message(self, event: str, msg: StoredMessage) -> None:
        if event == "deleted":
            self.out(f"  (bot deleted message {msg.message_id})")
            return
        m = BotMessage.from_stored(msg)
        self.out(self.render(m))

    def render(self, m: BotMessage) -> str:
        owner = next((k for k, u in self.users.items() if u.id == m.chat_id), None)
        if m.chat_id == self.user.id:
            where = ""
        elif owner:
            where = f"[→ {owner}] "
        else:
            chat = self.server.chats.get(m.chat_id)
            where = f"[{chat.title if chat and chat.title else m.chat_id}] "
        kind = "" if m.kind == "text" else f"[{m.kind}] "
        edited = "(edited) " if m.edited else ""
        lines = [f"bot ◀ {where}{edited}{kind}{m.text}".replace("\n", "\n      ")]
        if m.buttons and m.chat_id == self.user.id:
            self.numbered = []
            cells = []
            for b in m.flat_buttons():
                self.numbered.append((m.chat_id, m.message_id, b.text, b.data or ""))
                n = len(self.numbered)
                cells.append(f"[{n}] {b.text}" + (f" ({b.data})" if b.url else ""))
            lines.append("      " + "   ".join(cells))
        elif m.buttons:
            lines.append("      " + "   ".join(f"[{b.text}]" for b in m.flat_buttons()))
        kb = m.reply_keyboard
        if kb:
            lines.append("      ⌨ " + " ".join(f"[{t}]" for row in kb for t in row))
        return "\n".join(lines)

    async def run(self) -> None:
        unsubscribe = self.server.add_listener(self._on_bot_message)
        self.out(f"Simulating @{self.server.bot_username}. You are {self.current} "
                 f"(id {self.user.id}). /? for simulator commands, /quit to leave.")
        try:
            while True:
                try:
                    line = await self.input_fn(f"{self.current} ▶ ")
                except (EOFError, KeyboardInterrupt):
                    self.out("")
                    break
                line = line.strip()
                if not line:
                    continue
                try:
                    if not await self.handle(line):
                        break
                except (LookupError, OSError, ValueError, TimeoutError) as e:
                    self.out(f"! {e}")
        finally:
            unsubscribe()

    async def handle(self, line: str) -> bool:
        """Process one input line. Returns False to quit."""
        if line.startswith("//"):
            await self.driver.send(self.user, line[1:])
            return True
        cmd, _, rest = line.partition(" ")
        rest = rest.strip()
        if cmd not in LOCAL_COMMANDS:
            await self.driver.send(self.user, line)
            return True
        if cmd in ("/quit", "/exit"):
            return False
        if cmd == "/?":
            self.out(HELP)
        elif cmd == "/users":
            for key, u in self.users.items():
                mark = "*" if key == self.current else " "
                self.out(f" {mark} {key}: id={u.id} {u.full_name}" + (f" @{u.username}" if u.username else ""))
        elif cmd == "/as":
            parts = rest.split()
            if not parts:
                raise ValueError("usage: /as NAME [ID]")
            name = parts[0]
            if name not in self.users:
                uid = int(parts[1]) if len(parts) > 1 else max([u.id for u in self.users.values()] + [1000]) + 1
                self.users[name] = self.server.add_user(SimUser(id=uid, first_name=name))
                self.out(f"created user {name} (id {uid})")
            self.current = name
            self.numbered = []
            self.out(f"you are now {name} (id {self.user.id})")
        elif cmd == "/press":
            if not rest:
                raise ValueError("usage: /press N | /press TEXT")
            if rest.isdigit() and (self.numbered or not self.driver.find_button(self.user.id, rest)):
                n = int(rest)
                if not 1 <= n <= len(self.numbered):
                    raise LookupError(f"no button {n}; there are {len(self.numbered)}")
                chat_id, mid, text, data = self.numbered[n - 1]
                if data.startswith(("http://", "https://")):
                    self.out(f"(link button: {data})")
                    return True
                await self.driver.press_data(self.user, mid, data)
            else:
                await self.driver.press(self.user, rest)
            answer = self.driver.callback_answer()
            if answer and answer.get("text"):
                self.out(f"bot ◀ ({'alert' if answer['show_alert'] else 'toast'}) {answer['text']}")
        elif cmd in ("/photo", "/doc"):
            parts = shlex.split(rest)
            if not parts:
                raise ValueError(f"usage: {cmd} PATH [caption]")
            caption = " ".join(parts[1:]) or None
            if cmd == "/photo":
                await self.driver.photo(self.user, parts[0], caption)
            else:
                await self.driver.document(self.user, parts[0], caption)
        elif cmd == "/loc":
            parts = rest.replace(",", " ").split()
            if len(parts) != 2:
                raise ValueError("usage: /loc LAT LON")
            await self.driver.location(self.user, float(parts[0]), float(parts[1]))
        elif cmd == "/sticker":
            await self.driver.sticker(self.user)
        elif cmd == "/voice":
            await self.driver.voice(self.user)
        elif cmd == "/clock":
            await self.clock(rest)
        elif cmd == "/reply":
            last = self.driver.last(self.user.id)
            if last is None:
                raise LookupError("the bot has not written to you yet")
            await self.driver.send(self.user, rest or "…", reply_to=last.message_id)
        return True

    async def clock(self, rest: str) -> None:
        if self.travel is None or self.now is None:
            raise LookupError("this simulator cannot move the bot's clock")
        if rest:
            moved = await (self.travel(advance=rest[1:]) if rest.startswith("+") else self.travel(at=rest))
            self.out(f"⏱ {moved:%Y-%m-%d %H:%M (%a)}")
        else:
            self.out(f"⏱ {self.now():%Y-%m-%d %H:%M (%a)}")


async def _thread_input(prompt: str) -> str:
    return await asyncio.to_thread(input, prompt)


async def run_repl(driver: SimDriver, users: dict[str, SimUser], current: str, *,
                   out: Callable[[str], Any] = print,
                   input_fn: Callable[[str], Awaitable[str]] | None = None,
                   travel: Callable[..., Awaitable[datetime]] | None = None,
                   now: Callable[[], datetime] | None = None) -> None:
    """Chat with the bot in the terminal as ``users[current]`` until /quit or EOF.

    ``input_fn`` (an async prompt -> line) and ``out`` can be replaced, e.g. in tests; by
    default ``input()`` runs in a thread so the event loop (and the bot) keep running.
    """
    await Repl(driver, users, current, out=out, input_fn=input_fn, travel=travel, now=now).run()
