"""The digest as the user sees it: text, chart spec, Excel summary, in the recipient's language.

Shared by the /digest and /export handlers and the digest jobs (which render inside `in_locale`)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.services import points
from bot.services.digest import MONTHLY, Digest, Fact, Period, Plan, Scope, build_sheets
from bot.services.digest_chart import ChartSpec, render_chart
from bot.services.digest_excel import write_workbook
from bot.services.digest_sections import POINT_CATEGORIES


def fact_text(fact: Fact, html: bool = True) -> str:
    params = {k: escape(str(v)) if html else v for k, v in fact.params.items()}
    if fact.plural is not None:
        return ngettext(fact.msgid, fact.plural, int(fact.params[fact.n])).format(**params)
    return _(fact.msgid).format(**params)


def period_title(period: Period) -> str:
    if period.kind == MONTHLY:
        return _("{year}-{month}").format(year=period.start.year, month=f"{period.start.month:02d}")
    return _("week {start} – {end}").format(start=period.start.strftime("%m-%d"), end=period.last_day.strftime("%m-%d"))


def digest_title(digest: Digest) -> str:
    kind = _("Monthly digest") if digest.scope.period.kind == MONTHLY else _("Weekly digest")
    return f"{kind} · {digest.branch_name} · {period_title(digest.scope.period)}"


def digest_text(digest: Digest) -> str:
    lines = [f"📊 <b>{escape(digest_title(digest))}</b>"]
    for section in digest.sections:
        lines.append("")
        lines.append(f"<b>{escape(_(section.title))}</b>")
        lines += [fact_text(f) for f in section.facts]
        lines += ["❗ " + fact_text(f) for f in section.attention]
    if digest.missing:
        lines += ["", _("(Some numbers could not be computed: {sections}. The cause is logged.)").format(
            sections=", ".join(digest.missing))]
    return "\n".join(lines)


def all_branches_text(digests: list[Digest], period: Period) -> str:
    kind = _("Monthly digest") if period.kind == MONTHLY else _("Weekly digest")
    everyone = _("All branches")
    lines = [f"📊 <b>{escape(kind)} · {escape(everyone)} · {escape(period_title(period))}</b>", _("Worst first.")]
    if not digests:
        lines.append(_("No branches yet."))
    for n, digest in enumerate(digests, start=1):
        parts = [fact_text(f) for s in digest.sections for f in s.headline]
        lines.append(f"{n}. <b>{escape(digest.branch_name)}</b> · " + " · ".join(parts))
    return "\n".join(lines)


def chart_spec(digest: Digest) -> ChartSpec:
    weeks = digest.scope.trend()
    radar = digest.radar()
    categories = list(radar[0][1]) if radar else []
    return ChartSpec(
        title=digest_title(digest),
        week_labels=[_("{start}–{end}").format(start=w.start.strftime("%m/%d"),
                                              end=(w.end - timedelta(days=1)).strftime("%m/%d")) for w in weeks],
        series={_(label): values for label, values in digest.series().items()},
        percent_axis=_("share of members (%)"),
        radar_title=_("Vanguard index: points by category (top members)"),
        radar_categories=[_(POINT_CATEGORIES.get(c, c)) for c in categories],
        radar=[(name, [points[c] for c in categories]) for name, points in radar],
        empty_text=_("No activity in these weeks yet."),
    )


def summary_rows(digest: Digest) -> list[tuple[str, str]]:
    rows = [(_("Digest"), digest_title(digest))]
    for section in digest.sections:
        title = _(section.title)
        rows += [(title, fact_text(f, html=False)) for f in section.facts + section.attention]
    return rows


def chart_caption(digest: Digest) -> str:
    return "📈 " + escape(digest_title(digest))


def export_file_name(branch_name: str, period: Period) -> str:
    return f"{branch_name}_{period.label}.xlsx"


# --------------------------------------------------------------------------- producing the parts


def make_scope(app: App, branch_id: int, period: Period, now: datetime | None = None) -> Scope:
    """Numbers as of `now` (a job's scan time; default: the bot's clock)."""
    return Scope(branch_id, period, app.settings.tz, now or app.clock.now(), app.settings.digest_trend_weeks,
                 points.rules(app.settings))


async def chart_png(digest: Digest) -> bytes:
    """The chart, rendered off the event loop (the spec is translated here, in the caller's language)."""
    return await asyncio.to_thread(render_chart, chart_spec(digest))


async def workbook_bytes(session: AsyncSession, app: App, digest: Digest) -> bytes:
    """The Excel file of a digest's period: the summary, then every section's sheets (written in a thread)."""
    sheets = await build_sheets(session, digest.scope, app.digest_sections)
    summary = summary_rows(digest)
    # gettext reads the language from a context variable; asyncio.to_thread copies the context.
    return await asyncio.to_thread(write_workbook, summary, sheets, _, _("Overview"))


def plan_text(plan: Plan) -> str:
    """A branch's digest times in the current language (for /digest schedule and the CLI)."""
    weekly = plan.describe_weekly()
    monthly = plan.describe_monthly()
    days = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]
    parts = [_("weekly: {day} {time}").format(day=days[weekly[0]], time=weekly[1]) if weekly else _("weekly: off"),
             _("monthly: day {day} {time}").format(day=monthly[0], time=monthly[1]) if monthly else _("monthly: off")]
    return "；".join(parts)
