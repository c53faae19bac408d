"""`fieldmate talks …`: a branch's talks and coverage for a quarter, and the party/committee flags the talk
rules depend on (registered by bot/cli.py; imports stay lazy)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    talks_app = typer.Typer(help="Talk check-ins (谈心谈话).")
    app.add_typer(talks_app, name="talks")

    @talks_app.command("list")
    def talks_list(branch: str = typer.Option(..., "--branch", help="Branch name or id."),
                   quarter: str | None = typer.Option(None, "--quarter", help="e.g. 2026Q4 (default: this quarter).")
                   ) -> None:
        """The branch's talks in a quarter (no notes: dates, kinds, people) and its coverage."""
        from bot.cli import console, run_with_session, settings_or_exit
        from bot.clock import Clock
        from bot.services import membership, talks

        settings = settings_or_exit()
        today = Clock().local(settings.tz).date()

        async def work(session):
            target = await membership.require_branch(session, branch)
            period = talks.parse_quarter(quarter) if quarter else talks.quarter_of(today)
            return target, await talks.talks_held(session, target.id, period), \
                await talks.coverage(session, target.id, period, settings.tz)

        target, held, cover = run_with_session(settings, work)
        console.print(f"{target.name} {cover.period.label}: {cover.talks_held} talks "
                      f"({cover.talks_confirmed} confirmed), {cover.covered}/{cover.eligible} members covered, "
                      f"party members {cover.party[0]}/{cover.party[1]}")
        for talk in held:
            people = ", ".join(p.name + (" ✓" if p.confirmed_at else "") for p in talk.participants)
            open_items = sum(f.done_at is None for f in talk.follow_ups)
            console.print(f"{talk.id}\t{talk.held_on}\t{talk.kind}\t{people}\tfollow-ups open {open_items}/{len(talk.follow_ups)}")
        for line in cover.lines:
            if not line.covered:
                console.print(f"no talk: {line.member.real_name}")

    @talks_app.command("flags")
    def talks_flags(member_id: int,
                    party: bool | None = typer.Option(None, "--party/--no-party", help="Party member (党员)."),
                    committee: bool | None = typer.Option(None, "--committee/--no-committee", help="Committee member (支部委员).")
                    ) -> None:
        """Mark a member as party member and/or committee member (who needs which talks)."""
        from bot.cli import console, run_with_session, settings_or_exit
        from bot.services import audit
        from bot.services.errors import DomainError
        from storage.models import Member

        async def work(session):
            member = await session.get(Member, member_id)
            if member is None:
                raise DomainError("member_not_found")
            changes = {}
            if party is not None:
                member.is_party_member = changes["party"] = party
            if committee is not None:
                member.is_committee = changes["committee"] = committee
            audit.record(session, None, "member.flags", "member", member.id, actor_label="cli", **changes)
            return member

        member = run_with_session(settings_or_exit(), work)
        console.print(f"{member.real_name}: party member {member.is_party_member}, committee {member.is_committee}")
