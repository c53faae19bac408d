"""The feature registry: every capability of the bot, declared once, in one place.

A feature names its router factory, its commands (and who may use them), its menu buttons, its error
messages, its scheduled jobs and (for the digests) its digest section. Building the dispatcher, the command
menus, the reply keyboard, the error table and the scheduler is a loop over `FEATURES`.

Adding a capability = one module per layer it needs (a router in handlers/, a service in bot/services/,
models in storage/, jobs in schedulers/) + one `Feature(...)` entry below.

Order matters, and it is the order of `FEATURES`:
1. joining, then the gate that stops everyone who is not an active member, then the group guard that keeps
   personal data out of group chats;
2. features whose FSM states take free text (forms) before anything else that takes free text;
3. free-text questions (ask) — every message no feature claimed is a question;
4. the fallback, which answers whatever is left.
Keyboard rows and command lists follow the same order.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiogram import Router
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from bot.i18n import PluralTemplate
from bot.services.digest import MEMBERS, DigestSection
from bot.services.digest_sections import DAILY, POINTS, QUESTIONS, REPORTS, RULES, TALKS
from bot.services.talks import may_log
from handlers import admin, ask, common, daily, digest, fallback, gate, groups, kb, reports, review, start, talks
from handlers.ui.menu import CommandSpec, Menu, MenuButton
from handlers.ui.render import install_error_messages
from handlers.ui.report_text import REPORT_ERRORS
from handlers.ui.talk_text import TALK_ERRORS
from schedulers import daily as daily_jobs
from schedulers import digest as digest_jobs
from schedulers import forms as form_jobs
from schedulers import kb as kb_jobs
from schedulers import reports as report_jobs
from schedulers import talks as talk_jobs

if TYPE_CHECKING:
    from aiogram import Bot
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.context import App

# register(scheduler, app, bot): add the feature's jobs to the one scheduler (schedulers/__init__.py).
RegisterJobs = Callable[["AsyncIOScheduler", "App", "Bot"], None]


@dataclass(frozen=True)
class Feature:
    name: str
    router: Callable[[], Router]
    commands: tuple[CommandSpec, ...] = ()
    buttons: tuple[MenuButton, ...] = ()
    errors: dict[str, LazyProxy | PluralTemplate] = field(default_factory=dict)
    jobs: RegisterJobs | None = None
    # The feature's section of the secretaries' digest and Excel file (None: it has none; bot/services/digest.py).
    digest: DigestSection | None = None


def _command(name: str, description: LazyProxy, who: str = "member", in_menu: bool = True,
             private_only: bool = True) -> CommandSpec:
    return CommandSpec(name, description, who, in_menu, private_only)


FEATURES: tuple[Feature, ...] = (
    Feature("join", start.router),
    Feature("gate", gate.router),
    Feature("groups", groups.router),  # in groups, private-only commands and buttons answer "message me privately"
    Feature(
        "common", common.router,
        commands=(_command("help", __("What I can do for you"), private_only=False),
                  _command("language", __("Switch language"), private_only=False),
                  _command("cancel", __("Cancel the current form"), private_only=False)),
        buttons=(MenuButton(common.BTN_HELP, row=1), MenuButton(common.BTN_LANGUAGE, row=1)),
        jobs=form_jobs.register,  # every form's idle drafts: one reminder, then discarded
    ),
    Feature(
        "admin", admin.router,
        commands=(_command("members", __("Members of the branch"), "staff"),
                  _command("member", __("One member's card"), "staff", in_menu=False),
                  _command("invite", __("Create an invite link"), "staff"),
                  _command("invites", __("Invite links: list or revoke"), "staff"),
                  _command("branch", __("Branches: list or add"), "admin")),
        digest=MEMBERS,  # members: active, unreachable
    ),
    Feature(
        "reports", reports.router,  # the 四不伤害 form: its FSM state takes free text before questions do
        commands=(_command("report", __("File the monthly 四不伤害 report")),),
        buttons=(MenuButton(reports.BTN_REPORT),),
        errors=REPORT_ERRORS,
        jobs=report_jobs.register,
        digest=REPORTS,  # reports submitted/expected, pending reviews, hazards, corrective actions
    ),
    Feature(
        "review", review.router,  # report review and corrective actions
        commands=(_command("review", __("Review the branch's reports"), "staff"),
                  _command("actions", __("Corrective actions for hazards"))),  # owners mark their actions done
        digest=RULES,  # the rules this month's hazards and violations break most often
    ),
    Feature(
        "daily", daily.router,  # the daily safety item: 已学习 / quiz buttons, /today, /acks, /schedule
        commands=(_command("today", __("Today's safety item again")),
                  _command("acks", __("Who studied today's item"), "staff"),
                  _command("schedule", __("Daily item time and holidays per branch"), "admin")),
        buttons=(MenuButton(daily.BTN_TODAY),),
        errors=daily.DAILY_ERRORS,
        jobs=daily_jobs.register,
        digest=DAILY,  # acknowledgement rate, its trend, who missed most
    ),
    Feature(
        "digest", digest.router,  # the secretaries' digests, the Excel export and everyone's points
        commands=(_command("digest", __("The branch's digest: numbers and a chart"), "staff"),
                  _command("export", __("A month as an Excel file"), "staff"),
                  _command("me", __("My points, rank and streak"))),
        errors=digest.DIGEST_ERRORS,
        jobs=digest_jobs.register,
        digest=POINTS,  # the points leaderboard (and, monthly, the 先锋指数 radar)
    ),
    Feature(
        "talks", talks.router,  # 谈心谈话: the /talk form (free text in its FSM state), /talks, follow-ups
        commands=(_command("talk", __("Log a talk (谈心谈话)")),
                  _command("talks", __("Talks: coverage, follow-ups, who needs a talk"))),
        buttons=(MenuButton(talks.BTN_TALK, shown_to=may_log),),  # secretaries, committee and party members
        errors=TALK_ERRORS,
        jobs=talk_jobs.register,
        digest=TALKS,  # talks held, coverage, open follow-ups, who needs a talk now
    ),
    Feature(
        "kb", kb.router,  # admins keep the knowledge folder: documents uploaded in chat, /kb, /reindex, folder scan
        commands=(_command("kb", __("Knowledge base: documents, remove, restore"), "admin"),
                  _command("reindex", __("Rebuild the knowledge index"), "admin")),
        errors=kb.KB_ERRORS,
        jobs=kb_jobs.register,
    ),
    Feature(
        "ask", ask.router,  # free text: questions to the knowledge folder
        commands=(_command("ask", __("Ask a question (also in groups)"), private_only=False),
                  _command("gaps", __("Questions the knowledge base could not answer"), "admin")),
        errors=ask.ASK_ERRORS,
        digest=QUESTIONS,  # questions asked, share refused, top unanswered topics
    ),
    Feature("fallback", fallback.router),
)


def build_routers(features: Iterable[Feature] = FEATURES) -> list[Router]:
    """Fresh routers each call (a Router can be attached to one parent only, and tests build many)."""
    return [feature.router() for feature in features]


def build_menu(features: Iterable[Feature] = FEATURES) -> Menu:
    features = tuple(features)
    return Menu([c for f in features for c in f.commands], [f.buttons for f in features if f.buttons])


def install_errors(features: Iterable[Feature] = FEATURES) -> None:
    for feature in features:
        install_error_messages(feature.errors)


def digest_sections(features: Iterable[Feature] = FEATURES) -> tuple[DigestSection, ...]:
    """The digest's sections in registry order; a feature without one (or not built yet) adds nothing."""
    return tuple(feature.digest for feature in features if feature.digest is not None)


def register_jobs(scheduler: AsyncIOScheduler, app: App, bot: Bot, features: Iterable[Feature] = FEATURES) -> None:
    for feature in features:
        if feature.jobs is not None:
            feature.jobs(scheduler, app, bot)
