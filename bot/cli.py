"""The `fieldmate` command line. Heavy imports (aiogram, the knowledge engine) happen inside commands
so `fieldmate --help` and the knowledge commands start quickly."""
from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from bot.config import Settings, SettingsError, load_settings

app = typer.Typer(help="fieldmate — 安全先锋助手, the safety assistant bot for power-supply branches.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.")
branch_app = typer.Typer(help="Branches (支部).")
invite_app = typer.Typer(help="Invite links.")
member_app = typer.Typer(help="Members and roles.")
app.add_typer(db_app, name="db")
app.add_typer(branch_app, name="branch")
app.add_typer(invite_app, name="invite")
app.add_typer(member_app, name="member")
console = Console()


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """「1 member」, 「2 members」: the CLI's plain English lines."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


def run_with_session(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Open the database (migrating it), run `work(session)` in one transaction, commit."""
    from bot.services.errors import DomainError
    from storage.db import create_engine, create_sessionmaker
    from storage.migrate import upgrade

    async def main() -> Any:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            async with create_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as error:
        console.print(f"[red]Refused: {error.code} {error.params or ''}[/red]")
        raise typer.Exit(1) from None


# --- running ----------------------------------------------------------------------------------

@app.command()
def run(verbose: bool = typer.Option(False, "--verbose", "-v", help="more detail (with the simulator: logs on the terminal)")) -> None:
    """Start the bot: polls Telegram (or serves a webhook) with BOT_TOKEN; without a token, the simulator."""
    settings = settings_or_exit()
    if settings.bot_token is None:
        console.print("No BOT_TOKEN set: starting the local simulator instead (see README to connect to Telegram).")
        start_simulator(settings, verbose, fresh=False, script=None, as_user=None)
    from bot.logs import log_to_console
    from bot.runner import run_bot, run_event_loop

    log_to_console(verbose)
    run_event_loop(run_bot(settings))


@app.command()
def simulate(
    script: Path | None = typer.Option(None, "--script", help="Run a YAML conversation script and exit."),
    fresh: bool = typer.Option(False, "--fresh", help="Use a temporary database instead of DATABASE_URL."),
    as_user: str | None = typer.Option(None, "--as", help="Start chatting as this user (interactive mode)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show log lines on the terminal too."),
) -> None:
    """Chat with the bot in the terminal through a local fake Telegram server (no token needed)."""
    start_simulator(settings_or_exit(), verbose, fresh=fresh, script=script, as_user=as_user)


def start_simulator(settings: Settings, verbose: bool, **options: Any) -> None:
    """The chat keeps the terminal: log lines go to a file (its path said once), `-v` shows them too."""
    from bot.logs import log_to_file

    path = log_to_file(settings.log_dir, "simulator.log", verbose)
    if not verbose:
        console.print(f"日志写入 {path}（加 -v 在终端显示）", highlight=False, soft_wrap=True)
    from bot.runner import run_event_loop
    from bot.simulate import simulate_main

    raise typer.Exit(run_event_loop(simulate_main(settings, **options)))


# --- database, branches, invites, members -----------------------------------------------------

@app.command()
def readme() -> None:
    """Regenerate README's "first ten minutes" transcript from its conversation script."""
    import contextlib
    import io
    import tempfile

    from bot.simulate import simulate_main
    from bot.simulator import transcript

    output = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="fieldmate-readme-") as temp:
        settings = settings_or_exit(index_dir=Path(temp) / "index", media_dir=Path(temp) / "media",
                                    knowledge_sync_on_start=True)
        with contextlib.redirect_stdout(output):
            code = asyncio.run(simulate_main(settings, fresh=True, script=transcript.SCRIPT, as_user=None))
    if code:
        console.print(output.getvalue())
        raise typer.Exit(code)
    path = Path("README.md")
    path.write_text(transcript.with_block(path.read_text(encoding="utf-8"), transcript.normalize(output.getvalue())),
                    encoding="utf-8")
    console.print(f"README.md: transcript of {transcript.SCRIPT} updated")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to DATABASE_URL."""
    settings = settings_or_exit()
    run_with_session(settings, lambda session: asyncio.sleep(0))
    console.print(f"Database is up to date: {settings.database_url}")


@branch_app.command("add")
def branch_add(name: str) -> None:
    """Create a branch, e.g. `fieldmate branch add 余山供电所`."""
    from bot.services import membership

    branch = run_with_session(settings_or_exit(), lambda s: membership.add_branch(s, name, actor_label="cli"))
    console.print(f"Branch created: {branch.name} (id {branch.id})")


@branch_app.command("list")
def branch_list() -> None:
    from bot.services import membership

    for branch, count in run_with_session(settings_or_exit(), membership.list_branches):
        console.print(f"{branch.id}\t{branch.name}\t{counted(count, 'member')}")


@invite_app.command("create")
def invite_create(
    branch: str = typer.Option(..., "--branch", help="Branch name or id."),
    role: str = typer.Option("member", "--role", help="member or secretary."),
    uses: int | None = typer.Option(None, "--uses", help="Default: 50 for member, 1 for secretary."),
    days: int | None = typer.Option(None, "--days", help="Default: 14 for member, 3 for secretary."),
) -> None:
    """Create an invite link and print its t.me deep link."""
    from bot.services import membership

    settings = settings_or_exit()

    async def work(session):
        target = await membership.require_branch(session, branch)
        return await membership.create_invite(session, target, role, uses, days, actor_label="cli")

    invite = run_with_session(settings, work)
    console.print(membership.invite_link(settings.bot_username, invite), soft_wrap=True)


@invite_app.command("list")
def invite_list() -> None:
    """Invites that still work: id, branch, role, used/max uses, expiry (UTC)."""
    from bot.services import membership

    invites = run_with_session(settings_or_exit(), lambda s: membership.usable_invites(s, cli_actor()))
    for invite in invites:
        console.print(f"{invite.id}\t{invite.branch.name}\t{invite.role}\t{invite.uses}/{invite.max_uses}\t"
                      f"{invite.expires_at:%Y-%m-%d %H:%M} UTC", highlight=False)


@invite_app.command("revoke")
def invite_revoke(invite_id: str = typer.Argument(..., help="The id from `invite list`.")) -> None:
    """Stop an invite link from working."""
    from bot.services import membership
    from bot.services.parse import parse_id

    number = parse_id(invite_id)
    if number is None:
        console.print(f"[red]Not an invite id: {invite_id!r}[/red]")
        raise typer.Exit(2)
    invite = run_with_session(settings_or_exit(), lambda s: membership.revoke_invite(s, cli_actor(), number,
                                                                                      actor_label="cli"))
    console.print(f"Invite {invite.id} ({invite.branch.name}, {invite.role}) revoked")


def cli_actor():
    """The operator at the command line acts as an admin (imported late: services load lazily here)."""
    from bot.services.membership import Actor

    return Actor(0, None, is_admin=True)


@member_app.command("list")
def member_list(branch: str | None = typer.Option(None, "--branch")) -> None:
    from bot.services import membership

    async def work(session):
        branch_id = (await membership.require_branch(session, branch)).id if branch else None
        return await membership.list_members(session, cli_actor(), branch_id)

    for member in run_with_session(settings_or_exit(), work):
        state = "" if member.active else " (deactivated)"
        console.print(f"{member.id}\t{member.real_name}\t{member.role}\t{member.branch.name if member.branch else '-'}{state}")


@member_app.command("set-role")
def member_set_role(member_id: int, role: str) -> None:
    """Make a member a `member`, `secretary` or `admin`."""
    from bot.services import membership

    member = run_with_session(
        settings_or_exit(), lambda s: membership.set_role(s, cli_actor(), member_id, role)
    )
    console.print(f"{member.real_name} is now {member.role}")


@member_app.command("deactivate")
def member_deactivate(member_id: int) -> None:
    from bot.services import membership

    member = run_with_session(
        settings_or_exit(), lambda s: membership.set_active(s, cli_actor(), member_id, False)
    )
    console.print(f"{member.real_name} is deactivated")


# --- webhook registration (once per deployment, not by each bot process) ----------------------

webhook_app = typer.Typer(help="The Telegram webhook of a fleet deployment (WEBHOOK_URL, WEBHOOK_SECRET).")
app.add_typer(webhook_app, name="webhook")


def _with_bot(work: Callable[[Any], Awaitable[Any]]) -> Any:
    settings = settings_or_exit()
    if settings.bot_token is None:
        console.print("[red]BOT_TOKEN is not set[/red]")
        raise typer.Exit(2)
    from bot.app import build_bot

    async def main() -> Any:
        bot = build_bot(settings)
        try:
            return await work(bot)
        finally:
            await bot.session.close()

    return asyncio.run(main())


@webhook_app.command("set")
def webhook_set(drop_pending: bool = typer.Option(False, "--drop-pending", help="Discard updates not yet delivered.")) -> None:
    """Tell Telegram to deliver updates to WEBHOOK_URL (run once per deployment, e.g. by the compose job)."""
    settings = settings_or_exit()
    if not settings.webhook_url:
        console.print("[red]WEBHOOK_URL is not set[/red]")
        raise typer.Exit(2)
    from bot.webhook import set_webhook

    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    endpoint = _with_bot(lambda bot: set_webhook(bot, settings.webhook_url, secret, drop_pending))
    console.print(f"Webhook set: {endpoint}")


@webhook_app.command("delete")
def webhook_delete() -> None:
    """Stop webhook delivery (updates wait for getUpdates again)."""
    _with_bot(lambda bot: bot.delete_webhook(drop_pending_updates=False))
    console.print("Webhook deleted.")


@webhook_app.command("info")
def webhook_info() -> None:
    """Where Telegram delivers updates now, and how many wait."""
    info = _with_bot(lambda bot: bot.get_webhook_info())
    console.print(f"url={info.url or '-'} pending={info.pending_update_count} last_error={info.last_error_message or '-'}")


def _register_capabilities() -> None:
    """Each capability adds its own commands (they import lazily too)."""
    for module_name in ("bot.knowledge_engine.cli", "bot.kb_cli", "bot.daily_cli", "bot.talks_cli", "bot.digest_cli"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as error:
            if error.name and module_name.startswith(error.name):
                continue  # capability not installed in this build
            raise
        module.register(app)


_register_capabilities()


def main() -> None:
    app(prog_name="fieldmate")


if __name__ == "__main__":
    sys.exit(main())

