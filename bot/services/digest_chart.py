"""The digest's chart: one PNG with the weekly trend lines (and, monthly, the 先锋指数 radar of the top members).

CPU work: call `render_chart` through `asyncio.to_thread`. It uses matplotlib's object API (a `Figure` with
the Agg canvas, no pyplot state), so renders in threads do not share a current figure.
Chinese labels use Noto Sans CJK SC from the `mplfonts` package (SIL OFL, inside the wheel; nothing is
downloaded), registered with matplotlib's font manager; every text is drawn with that font explicitly, so
no fallback font can turn a character into a tofu box.
"""
from __future__ import annotations

import importlib.util
import io
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server; set before anything imports pyplot

from matplotlib import font_manager  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

FONT_FILE = "NotoSansCJKsc-Regular.otf"


@dataclass(frozen=True)
class ChartSpec:
    """Everything the chart shows, already translated."""

    title: str
    week_labels: list[str]
    series: dict[str, list[float | None]]  # line label → one share (0..1) per week
    percent_axis: str = "%"
    radar_title: str = ""
    radar_categories: list[str] = field(default_factory=list)
    radar: list[tuple[str, list[int]]] = field(default_factory=list)  # (member name, points per category)
    empty_text: str = ""  # shown when there is no data at all


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """The Noto Sans CJK SC file shipped by mplfonts, registered with matplotlib's font manager."""
    spec = importlib.util.find_spec("mplfonts")  # located, not imported: importing it loads pyplot
    found = sorted(Path(spec.origin).parent.rglob(FONT_FILE)) if spec and spec.origin else []
    if not found:
        raise RuntimeError(f"{FONT_FILE} not found in the mplfonts package; reinstall it (pip install mplfonts)")
    font_manager.fontManager.addfont(str(found[0]))
    return found[0]


def cjk_font() -> font_manager.FontProperties:
    return font_manager.FontProperties(fname=str(cjk_font_path()))


def build_figure(spec: ChartSpec) -> Figure:
    font = cjk_font()
    radar = bool(spec.radar and spec.radar_categories)
    figure = Figure(figsize=(11 if radar else 7.5, 4.8), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    trend = figure.add_subplot(1, 2, 1) if radar else figure.add_subplot(1, 1, 1)
    _draw_trend(trend, spec, font)
    if radar:
        _draw_radar(figure.add_subplot(1, 2, 2, projection="polar"), spec, font)
    figure.suptitle(spec.title, fontproperties=font, fontsize=14)
    return figure


def render_chart(spec: ChartSpec) -> bytes:
    """PNG bytes of the digest's chart."""
    figure = build_figure(spec)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def figure_texts(figure: Figure) -> list[str]:
    """Every visible text drawn on the figure (titles, labels, tick labels, legend): for the glyph check."""
    return [t.get_text() for t in figure.findobj(Text) if t.get_visible() and t.get_text()]


def _draw_trend(axes, spec: ChartSpec, font) -> None:
    x = list(range(len(spec.week_labels)))
    drawn = False
    for label, values in spec.series.items():
        points = [(i, v * 100) for i, v in zip(x, values) if v is not None]
        if points:
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
            drawn = True
    axes.set_xticks(x)
    axes.set_xticklabels(spec.week_labels, fontproperties=font, rotation=30)
    axes.set_ylim(0, 105)
    axes.set_ylabel(spec.percent_axis, fontproperties=font)
    for tick in axes.get_yticklabels():
        tick.set_fontproperties(font)
    axes.grid(alpha=0.3)
    if drawn:
        axes.legend(prop=font, loc="lower left")
    elif spec.empty_text:
        axes.text(0.5, 0.5, spec.empty_text, ha="center", va="center", transform=axes.transAxes, fontproperties=font)


def _draw_radar(axes, spec: ChartSpec, font) -> None:
    count = len(spec.radar_categories)
    angles = [2 * math.pi * n / count for n in range(count)]
    top = max([max(values) for _name, values in spec.radar if values] + [1])
    for name, values in spec.radar:
        axes.plot(angles + angles[:1], list(values) + list(values[:1]), label=name)
        axes.fill(angles + angles[:1], list(values) + list(values[:1]), alpha=0.1)
    axes.set_xticks(angles)
    axes.set_xticklabels(spec.radar_categories, fontproperties=font)
    axes.set_ylim(0, top * 1.1)
    for tick in axes.get_yticklabels():
        tick.set_fontproperties(font)
    axes.set_title(spec.radar_title, fontproperties=font, pad=18)
    axes.legend(prop=font, loc="upper right", bbox_to_anchor=(1.35, 1.1), fontsize=8)
