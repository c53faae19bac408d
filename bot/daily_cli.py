"""CLI for the daily item: `fieldmate schedule …` and `fieldmate daily …` (wired by bot/cli.py).

Imports stay inside the commands so `fieldmate --help` does not load the database layer."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

console = Console()


def register(app: typer.Typer) -> None:
    schedule_app = typer.Typer(help="Daily item time, study days and holidays per branch.", no_args_is_help=True)
    daily_app = typer.Typer(help="Daily safety items (knowledge/daily/*.yaml).", no_args_is_help=True)
    schedule_app.command("set")(schedule_set)
    schedule_app.command("holiday")(schedule_holiday)
    schedule_app.command("show")(schedule_show)
    daily_app.command("check")(daily_check)
    daily_app.command("sync")(daily_sync)
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(daily_app, name="daily")


def _settings():
    from bot.cli import settings_or_exit

    return settings_or_exit()


def _run(work):
    from bot.cli import run_with_session

    return run_with_session(_settings(), work)


def schedule_set(
    branch: str = typer.Argument(..., help="Branch name or id, e.g. 余山供电所"),
    at: Optional[str] = typer.Option(None, "--at", help="Push time HH:MM in the TIMEZONE setting"),
    everyday: Optional[bool] = typer.Option(None, "--everyday/--workdays", help="Every day, or Monday–Friday"),
) -> None:
    """Set a branch's push time and study days."""
    from bot.services import audit, daily, membership

    settings = _settings()

    async def work(session):
        found = await membership.require_branch(session, branch)
        await daily.set_schedule(session, found.id, at=at, everyday=everyday, default_time=settings.daily_default_time)
        audit.record(session, None, "daily.schedule", "branch", found.id, actor_label="cli", at=at, everyday=everyday)
        return await _describe(session, found, settings)

    console.print(_run(work))


def schedule_holiday(
    branch: str = typer.Argument(..., help="Branch name or id"),
    days: str = typer.Argument(..., help="2026-10-01 or 2026-10-01..2026-10-07"),
    remove: bool = typer.Option(False, "--remove", help="Make these days study days again"),
) -> None:
    """Add (or remove) days without a daily item for a branch."""
    from bot.services import audit, daily, membership

    settings = _settings()

    async def work(session):
        found = await membership.require_branch(session, branch)
        start, end = daily.parse_day_range(days)
        if remove:
            await daily.remove_holidays(session, found.id, start, end)
        else:
            await daily.add_holidays(session, found.id, start, end)
        audit.record(session, None, "daily.holiday", "branch", found.id, actor_label="cli", days=days, remove=remove)
        return await _describe(session, found, settings)

    console.print(_run(work))


def schedule_show(branch: Optional[str] = typer.Argument(None, help="One branch; all when left out")) -> None:
    """Show push time, study days and coming holidays."""
    from bot.services import membership

    settings = _settings()

    async def work(session):
        if branch:
            return await _describe(session, await membership.require_branch(session, branch), settings)
        rows = await membership.list_branches(session)
        return "\n".join([await _describe(session, found, settings) for found, _count in rows]) or "no branches"

    console.print(_run(work))


async def _describe(session, branch, settings) -> str:
    from datetime import datetime

    from bot.services import daily

    plan = await daily.get_schedule(session, branch.id, settings.daily_default_time)
    holidays = await daily.upcoming_holidays(session, branch.id, datetime.now(settings.tz).date())
    days = "every day" if plan.everyday else "workdays"
    text = f"{branch.name}: {plan.at.strftime('%H:%M')} {days}" + ("" if plan.custom else " (default)")
    if holidays:
        text += "; no item on " + ", ".join(day.isoformat() for day in holidays)
    return text


def daily_check(folder: Optional[Path] = typer.Option(None, "--dir", help="Default: KNOWLEDGE_DIR/daily")) -> None:
    """Validate the item files; exit 1 when an item would be skipped."""
    from collections import Counter

    from bot.services.daily_items import load_items

    folder = folder or _settings().knowledge_dir / "daily"
    result = load_items(folder)
    for problem in result.problems:
        console.print(f"[{'red' if problem.skipped else 'yellow'}]{problem}[/]", markup=True, highlight=False)
    kinds = Counter(item.kind for item in result.items)
    quizzes = sum(1 for item in result.items if item.quiz)
    console.print(f"{len(result.items)} items in {result.files} files ({', '.join(f'{k} {n}' for k, n in kinds.items())}; "
                  f"{quizzes} with a quiz), {len(result.problems)} problems")
    if any(problem.skipped for problem in result.problems) or not result.items:
        raise typer.Exit(1)


def daily_sync() -> None:
    """Load the item files into the database now (the bot also does this on its own when a file changes)."""
    from bot.services.daily_items import load_and_sync

    settings = _settings()

    async def work(session):
        return await load_and_sync(session, settings.knowledge_dir / "daily")

    result, report = _run(work)
    for problem in result.problems:
        console.print(str(problem), highlight=False)
    console.print(f"{len(result.items)} items: {len(report.added)} new, {len(report.updated)} changed, "
                  f"{len(report.retired)} retired")
