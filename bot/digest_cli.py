"""CLI for digests: `fieldmate export …` (a month as an Excel file) and `fieldmate digest schedule|show`
(wired by bot/cli.py). Imports stay inside the commands so `fieldmate --help` stays quick."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

console = Console()


def register(app: typer.Typer) -> None:
    digest_app = typer.Typer(help="Secretaries' digests: times per branch.", no_args_is_help=True)
    digest_app.command("schedule")(digest_schedule)
    digest_app.command("show")(digest_show)
    app.add_typer(digest_app, name="digest")
    app.command("export")(export)


def _settings():
    from bot.cli import settings_or_exit

    return settings_or_exit()


def export(
    branch: str = typer.Option(..., "--branch", help="Branch name or id, e.g. 余山供电所"),
    month: str = typer.Option(..., "--month", help="The month, e.g. 2026-11 (or 本月 / 上月)"),
    output: Path = typer.Option(..., "-o", "--output", help="The .xlsx file to write"),
    locale: Optional[str] = typer.Option(None, "--locale", help="zh or en (default: DEFAULT_LOCALE)"),
) -> None:
    """Write a branch's month (summary, reports, hazards and actions, acknowledgements, questions, points) to Excel."""
    from bot.app import create_app
    from bot.services import digest as digests
    from bot.services import membership
    from bot.services.errors import DomainError
    from handlers.ui.digest_view import make_scope, workbook_bytes
    from handlers.ui.report_text import in_locale

    settings = _settings()

    async def main() -> int:
        app = await create_app(settings)
        try:
            async with app.sessionmaker() as session:
                found = await membership.require_branch(session, branch)
                with in_locale(app, locale):
                    period = digests.parse_period(month, app.local_now().date())
                    digest = await digests.build_digest(session, make_scope(app, found.id, period), app.digest_sections)
                    data = await workbook_bytes(session, app, digest)
            output.write_bytes(data)
            return len(data)
        finally:
            await app.close()

    try:
        size = asyncio.run(main())
    except DomainError as error:
        console.print(f"[red]Refused: {error.code} {error.params or ''}[/red]")
        raise typer.Exit(1) from None
    console.print(f"wrote {output} ({size // 1024} KiB)")


def digest_schedule(
    branch: str = typer.Argument(..., help="Branch name or id"),
    kind: str = typer.Argument(..., help="weekly or monthly"),
    day: Optional[str] = typer.Option(None, "--day", help="weekly: mon…sun or 0–6; monthly: 1–28"),
    at: Optional[str] = typer.Option(None, "--at", help="Local time HH:MM"),
    off: bool = typer.Option(False, "--off", help="No digest of this kind for the branch"),
) -> None:
    """Set when a branch gets its weekly or monthly digest."""
    from bot.cli import run_with_session
    from bot.services import audit, membership
    from bot.services import digest as digests

    settings = _settings()

    async def work(session):
        found = await membership.require_branch(session, branch)
        plan = await digests.set_plan(session, found.id, kind, digests.default_plan(settings), off=off, day=day, at=at)
        audit.record(session, None, "digest.schedule", "branch", found.id, actor_label="cli", kind=kind, day=day,
                     at=at, off=off)
        return f"{found.name}: {_plain(plan)}"

    console.print(run_with_session(settings, work))


def digest_show() -> None:
    """Every branch's digest times."""
    from bot.cli import run_with_session
    from bot.services import digest as digests
    from bot.services import membership

    settings = _settings()

    async def work(session):
        plans = await digests.plans(session, digests.default_plan(settings))
        return "\n".join(f"{branch.name}: {_plain(plans[branch.id])}"
                         for branch, _count in await membership.list_branches(session)) or "no branches"

    console.print(run_with_session(settings, work))


def _plain(plan) -> str:
    weekly, monthly = plan.describe_weekly(), plan.describe_monthly()
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return (f"weekly {days[weekly[0]]} {weekly[1]}" if weekly else "weekly off") + ", " + \
        (f"monthly day {monthly[0]} {monthly[1]}" if monthly else "monthly off")
