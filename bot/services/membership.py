"""Branches, invites, joining and role changes."""
from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.errors import DomainError
from bot.services.parse import ROW_ID_MAX, parse_id, parse_int
from storage.models import Branch, Invite, Member, Role, utcnow

NAME_MIN, NAME_MAX = 2, 20
BRANCH_NAME_MAX = 32
# Letters of any script (CJK included), the Chinese middle dot used in transliterated names, inner spaces.
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:[·•・ ][^\W\d_]+)*$")


@dataclass(frozen=True)
class Actor:
    """Who is asking: resolved once per update, passed to every service call that authorizes."""

    telegram_id: int
    member: Member | None
    is_admin: bool

    @property
    def is_member(self) -> bool:
        return self.is_admin or (self.member is not None and self.member.active)

    @property
    def is_secretary(self) -> bool:
        """A secretary of a branch. One without a branch (possible only in data from before set_role
        refused it) manages nothing: as a secretary of no branch they would otherwise see every branch."""
        return (self.is_member and self.member is not None and self.member.role == Role.SECRETARY
                and self.member.branch_id is not None)

    @property
    def branch_id(self) -> int | None:
        return self.member.branch_id if self.member else None

    @property
    def display_name(self) -> str:
        """The name to record and show for what this actor did (an ADMIN_IDS admin who never joined has
        only an id)."""
        return self.member.real_name if self.member else f"admin {self.telegram_id}"

    def can_manage_branch(self, branch_id: int | None) -> bool:
        return self.is_admin or (self.is_secretary and branch_id is not None and branch_id == self.branch_id)


def clean_name(raw: str) -> str:
    """Validate a real name; raises DomainError('name_*') with a reason the user can act on."""
    name = unicodedata.normalize("NFKC", raw or "").strip()
    name = re.sub(r"\s+", " ", name)
    if not name:
        raise DomainError("name_empty")
    if len(name) > NAME_MAX:
        raise DomainError("name_too_long", max=NAME_MAX)
    if len(name) < NAME_MIN:
        raise DomainError("name_too_short", min=NAME_MIN)
    if not _NAME_CHARS.match(name):
        raise DomainError("name_bad_chars")
    return name


def clean_branch_name(raw: str) -> str:
    name = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", raw or "")).strip()
    if not name or len(name) > BRANCH_NAME_MAX or "<" in name or ">" in name:
        raise DomainError("branch_name_invalid", max=BRANCH_NAME_MAX)
    return name


# --- branches ---------------------------------------------------------------------------------

async def add_branch(session: AsyncSession, name: str, actor: Member | None = None, actor_label: str | None = None) -> Branch:
    name = clean_branch_name(name)
    if await _branch_named(session, name):  # by name only: a branch may well be called "1"
        raise DomainError("branch_exists", name=name)
    branch = Branch(name=name)
    session.add(branch)
    await session.flush()
    audit.record(session, actor, "branch.add", "branch", branch.id, actor_label=actor_label, name=name)
    return branch


async def find_branch(session: AsyncSession, name_or_id: str | int) -> Branch | None:
    branch_id = name_or_id if isinstance(name_or_id, int) else parse_id(name_or_id)
    if branch_id is not None and 1 <= branch_id <= ROW_ID_MAX:
        found = await session.get(Branch, branch_id)
        if found:
            return found
    return await _branch_named(session, str(name_or_id))


async def _branch_named(session: AsyncSession, name: str) -> Branch | None:
    name = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", name)).strip()
    return await session.scalar(select(Branch).where(Branch.name == name))


async def require_branch(session: AsyncSession, name_or_id: str | int) -> Branch:
    branch = await find_branch(session, name_or_id)
    if branch is None:
        raise DomainError("branch_not_found", name=str(name_or_id))
    return branch


async def list_branches(session: AsyncSession) -> list[tuple[Branch, int]]:
    """Branches with their count of active members."""
    rows = await session.execute(
        select(Branch, func.count(Member.id))
        .outerjoin(Member, (Member.branch_id == Branch.id) & Member.active.is_(True))
        .group_by(Branch.id)
        .order_by(Branch.name)
    )
    return [(branch, count) for branch, count in rows.all()]


# --- invites ----------------------------------------------------------------------------------

MAX_INVITE_USES, MAX_INVITE_DAYS = 1000, 365
# (uses, days) when not given. A secretary link is for one person and short-lived: a forwarded link must not
# make more people secretaries.
INVITE_DEFAULTS = {Role.MEMBER: (50, 14), Role.SECRETARY: (1, 3)}


def invite_limits(role: str, uses: str | None = None, days: str | None = None) -> tuple[int, int]:
    """Uses and days of a new invite from what the user typed (ASCII digits), else the role's defaults."""
    default_uses, default_days = INVITE_DEFAULTS.get(role, INVITE_DEFAULTS[Role.MEMBER])
    parsed = (default_uses if uses is None else parse_int(uses, lo=1, hi=MAX_INVITE_USES),
              default_days if days is None else parse_int(days, lo=1, hi=MAX_INVITE_DAYS))
    if None in parsed:
        raise DomainError("invite_bad_limits")
    return parsed

async def create_invite(
    session: AsyncSession,
    branch: Branch,
    role: str = Role.MEMBER,
    uses: int | None = None,
    days: int | None = None,
    actor: Member | None = None,
    actor_label: str | None = None,
    now: datetime | None = None,
) -> Invite:
    """A new invite link; uses and days default by role (INVITE_DEFAULTS)."""
    if role not in (Role.MEMBER, Role.SECRETARY):
        raise DomainError("invite_bad_role")
    default_uses, default_days = INVITE_DEFAULTS[role]
    uses, days = default_uses if uses is None else uses, default_days if days is None else days
    if not 1 <= uses <= MAX_INVITE_USES or not 1 <= days <= MAX_INVITE_DAYS:
        raise DomainError("invite_bad_limits")
    invite = Invite(
        code=secrets.token_urlsafe(9).replace("-", "x").replace("_", "y"),
        branch_id=branch.id,
        role=role,
        max_uses=uses,
        expires_at=(now or utcnow()) + timedelta(days=days),
        created_by=actor.id if actor else None,
    )
    session.add(invite)
    await session.flush()
    audit.record(
        session, actor, "invite.create", "invite", invite.id, actor_label=actor_label,
        branch=branch.name, role=role, uses=uses, days=days,
    )
    return invite


async def usable_invites(session: AsyncSession, actor: Actor, now: datetime | None = None) -> list[Invite]:
    """Invites that still let someone join: admins see all, secretaries their own branch's."""
    if not (actor.is_admin or actor.is_secretary):
        raise DomainError("forbidden")
    query = (select(Invite).where(Invite.revoked.is_(False), Invite.expires_at > (now or utcnow()),
                                  Invite.uses < Invite.max_uses)
             .order_by(Invite.branch_id, Invite.expires_at, Invite.id))
    if not actor.is_admin:
        query = query.where(Invite.branch_id == actor.branch_id)
    return list((await session.scalars(query)).all())


async def revoke_invite(session: AsyncSession, actor: Actor, invite_id: int, actor_label: str | None = None) -> Invite:
    """Stop a link from working (admins: any; secretaries: their branch's). Absent and foreign look alike."""
    invite = await session.get(Invite, invite_id)
    if invite is None or not actor.can_manage_branch(invite.branch_id):
        raise DomainError("invite_not_found")
    if not invite.revoked:
        invite.revoked = True
        audit.record(session, actor.member, "invite.revoke", "invite", invite.id, actor_label=actor_label,
                     branch=invite.branch.name, role=invite.role)
    return invite


def invite_link(bot_username: str, invite: Invite) -> str:
    return f"https://t.me/{bot_username}?start={invite.code}"


async def check_invite(session: AsyncSession, code: str, now: datetime | None = None) -> Invite:
    """The usable invite for `code`, or DomainError saying why not (unknown, expired, used up)."""
    if not code or len(code) > 32:
        raise DomainError("invite_unknown")
    invite = await session.scalar(select(Invite).where(Invite.code == code))
    if invite is None or invite.revoked:
        raise DomainError("invite_unknown")
    if invite.expires_at <= (now or utcnow()):
        raise DomainError("invite_expired")
    if invite.uses >= invite.max_uses:
        raise DomainError("invite_used_up")
    return invite


async def join(session: AsyncSession, telegram_id: int, code: str, real_name: str, locale: str | None = None,
               now: datetime | None = None) -> Member:
    """Create the member and spend one use of the invite, atomically (the use counter is guarded in SQL)."""
    name = clean_name(real_name)
    existing = await member_by_telegram_id(session, telegram_id)
    if existing is not None:
        raise DomainError("already_member", branch=existing.branch.name if existing.branch else "")
    now = now or utcnow()
    invite = await check_invite(session, code, now)
    spent = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.uses < Invite.max_uses)
        .values(uses=Invite.uses + 1)
    )
    if spent.rowcount != 1:
        raise DomainError("invite_used_up")
    member = Member(telegram_id=telegram_id, real_name=name, branch_id=invite.branch_id, role=invite.role, locale=locale,
                    joined_at=now)
    session.add(member)
    await session.flush()
    await session.refresh(member, ["branch"])
    audit.record(session, member, "member.join", "member", member.id, branch=invite.branch.name, invite=invite.id)
    return member


# --- members ----------------------------------------------------------------------------------

async def member_by_telegram_id(session: AsyncSession, telegram_id: int) -> Member | None:
    return await session.scalar(select(Member).where(Member.telegram_id == telegram_id))


async def ensure_admin_member(session: AsyncSession, telegram_id: int, display_name: str) -> Member:
    """Admins from ADMIN_IDS get a member row on first contact so audit entries can name them."""
    member = await member_by_telegram_id(session, telegram_id)
    if member is None:
        member = Member(telegram_id=telegram_id, real_name=(display_name or "管理员")[:40], role=Role.ADMIN)
        session.add(member)
        await session.flush()
        audit.record(session, member, "member.bootstrap_admin", "member", member.id)
    return member


async def list_members(session: AsyncSession, actor: Actor, branch_id: int | None = None) -> list[Member]:
    """Members the actor may see: admins any branch (or all), secretaries only their own."""
    if not actor.is_admin:
        if not actor.is_secretary:
            raise DomainError("forbidden")
        branch_id = actor.branch_id
    query = select(Member).order_by(Member.branch_id, Member.real_name)
    if branch_id is not None:
        query = query.where(Member.branch_id == branch_id)
    return list((await session.scalars(query)).all())


async def get_member_for(session: AsyncSession, actor: Actor, member_id: int) -> Member:
    """Load a member the actor is allowed to manage, else DomainError (same error whether absent or foreign)."""
    member = await session.get(Member, member_id)
    if member is None or not actor.can_manage_branch(member.branch_id):
        raise DomainError("member_not_found")
    return member


async def set_role(session: AsyncSession, actor: Actor, member_id: int, role: str) -> Member:
    if not actor.is_admin:
        raise DomainError("forbidden")
    if role not in tuple(Role):
        raise DomainError("bad_role")
    member = await get_member_for(session, actor, member_id)
    if role == Role.SECRETARY and member.branch_id is None:
        raise DomainError("secretary_needs_branch", name=member.real_name)
    old = member.role
    member.role = role
    audit.record(session, actor.member, "member.role", "member", member.id, old=old, new=role)
    return member


async def move_member(session: AsyncSession, actor: Actor, member_id: int, branch: Branch) -> Member:
    if not actor.is_admin:
        raise DomainError("forbidden")
    member = await get_member_for(session, actor, member_id)
    old = member.branch.name if member.branch else None
    member.branch_id = branch.id
    member.branch = branch
    audit.record(session, actor.member, "member.move", "member", member.id, old=old, new=branch.name)
    return member


async def set_active(session: AsyncSession, actor: Actor, member_id: int, active: bool) -> Member:
    member = await get_member_for(session, actor, member_id)
    if not actor.is_admin:
        raise DomainError("forbidden")
    if actor.member is not None and member.id == actor.member.id:
        raise DomainError("cannot_change_self")
    member.active = active
    audit.record(session, actor.member, "member.activate" if active else "member.deactivate", "member", member.id)
    return member


async def set_locale(session: AsyncSession, member: Member, locale: str) -> None:
    member.locale = locale


async def admin_recipients(session: AsyncSession, configured_ids: Iterable[int]) -> list[tuple[int, Member | None]]:
    """Who receives admin notices, once each: active admin members and the configured ADMIN_IDS
    (who may not have joined yet), as (telegram id, member or None)."""
    admins = (await session.scalars(select(Member).where(Member.role == Role.ADMIN, Member.active.is_(True)))).all()
    recipients: dict[int, Member | None] = {member.telegram_id: member for member in admins}
    configured = set(configured_ids) - set(recipients)
    if configured:
        for member in (await session.scalars(select(Member).where(Member.telegram_id.in_(configured)))).all():
            recipients[member.telegram_id] = member
        recipients.update({telegram_id: None for telegram_id in configured if telegram_id not in recipients})
    return sorted(recipients.items())
