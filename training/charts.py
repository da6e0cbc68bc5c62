"""Line charts drawn on the server as inline SVG: no CDN, no JavaScript.

The run page draws losses, the quality report's figures and ADA's augment
probability from the run's statistics history and its checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

PALETTE = ("#8c2d19", "#1f5f8b", "#3f7d20", "#7a4e9c", "#b07d12")


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]]
    colour: str = ""


def series_from_history(history: Iterable[dict], key: str, name: str, x_key: str = "kimg") -> Series:
    """The finite (x, y) points of ``key`` in a run's history."""
    points = []
    for entry in history:
        x, y = entry.get(x_key), entry.get(key)
        if (
            isinstance(x, (int, float))
            and isinstance(y, (int, float))
            and math.isfinite(x)
            and math.isfinite(y)
        ):
            points.append((float(x), float(y)))
    return Series(name, points)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 × 10^n steps) covering [low, high]."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _label(value: float) -> str:
    return f"{value:.4g}"


def line_chart(
    series: Sequence[Series],
    title: str,
    x_label: str = "kimg",
    width: int = 640,
    height: int = 220,
    y_range: tuple[float, float] | None = None,
) -> SafeString:
    """An accessible inline SVG line chart; an empty chart says there is no data yet."""
    left, right, top, bottom = 56, 12, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    drawn = [s for s in series if s.points]
    header = format_html(
        '<svg class="run-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>'
        '<text x="{}" y="18" font-size="13" font-weight="bold">{}</text>',
        title,
        width,
        height,
        width,
        height,
        title,
        left,
        title,
    )
    if not drawn:
        body = format_html(
            '<text x="{}" y="{}" font-size="12" fill="#666">{}</text>',
            left,
            top + plot_h // 2,
            _("No data yet."),
        )
        return mark_safe(header + body + "</svg>")  # noqa: S308 - parts built with format_html

    xs = [x for s in drawn for x, _y in s.points]
    ys = [y for s in drawn for _x, y in s.points]
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = nice_ticks(*(y_range or (min(ys), max(ys))))
    x0, x1 = x_ticks[0], x_ticks[-1]
    y0, y1 = y_ticks[0], y_ticks[-1]

    # Coordinates are formatted here: format_html escapes (stringifies) its arguments.
    def px(x: float) -> str:
        return f"{left + (x - x0) / (x1 - x0) * plot_w:.1f}"

    def py(y: float) -> str:
        return f"{top + plot_h - (y - y0) / (y1 - y0) * plot_h:.1f}"

    grid = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#444">{}</text>',
        (
            (left, py(t), left + plot_w, py(t), left - 6, f"{float(py(t)) + 3:.1f}", _label(t))
            for t in y_ticks
        ),
    )
    grid += format_html_join(
        "",
        '<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#444">{}</text>',
        ((px(t), top + plot_h + 14, _label(t)) for t in x_ticks),
    )
    axes = format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#999"/>'
        '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#444">{}</text>',
        left,
        top,
        plot_w,
        plot_h,
        left + plot_w / 2,
        height - 4,
        x_label,
    )
    lines = []
    legend = []
    for index, s in enumerate(drawn):
        colour = s.colour or PALETTE[index % len(PALETTE)]
        coords = " ".join(f"{px(x)},{py(y)}" for x, y in s.points)
        lines.append(
            format_html(
                '<polyline class="series" data-series="{}" points="{}" fill="none" stroke="{}" stroke-width="1.8"/>',
                s.name,
                coords,
                colour,
            )
        )
        if len(s.points) == 1:
            x, y = s.points[0]
            lines.append(format_html('<circle cx="{}" cy="{}" r="3" fill="{}"/>', px(x), py(y), colour))
        # Right-aligned, swatch last: a long name grows leftwards instead of
        # running off the chart's right edge.
        lx = left + plot_w - 20
        ly = top + 12 + 14 * index
        legend.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="3"/>'
                '<text x="{}" y="{}" font-size="11" text-anchor="end">{} ({})</text>',
                lx,
                ly - 4,
                lx + 14,
                ly - 4,
                colour,
                lx - 4,
                ly,
                s.name,
                _label(s.points[-1][1]),
            )
        )
    return mark_safe(header + grid + axes + "".join(lines) + "".join(legend) + "</svg>")  # noqa: S308


# The quality report's figures kept in a run's history and charted over kimg.
QUALITY_KEYS = ("swd", "swd_floor", "precision", "recall", "diversity", "near_duplicate_rate", "copy_rate")


def quality_points(history: Sequence[dict], checkpoints: Iterable = ()) -> list[dict]:
    """The run's quality measurements by kimg: its history's, plus those
    stored on its checkpoints (a checkpoint measured between two ticks, or a
    run recorded before the history kept them), so the charts show every
    measurement the checkpoint table shows."""
    by_kimg: dict[float, dict] = {}
    for entry in history:
        if any(isinstance(entry.get(k), (int, float)) for k in QUALITY_KEYS):
            by_kimg[round(float(entry["kimg"]), 6)] = dict(entry)
    for checkpoint in checkpoints:
        kimg = round(float(checkpoint.kimg), 6)
        figures = {k: v for k, v in (checkpoint.quality or {}).items() if k in QUALITY_KEYS}
        if checkpoint.metric is not None:
            figures.setdefault("swd", checkpoint.metric)
        if figures:
            by_kimg[kimg] = {**figures, **by_kimg.get(kimg, {}), "kimg": kimg}
    return [by_kimg[k] for k in sorted(by_kimg)]


def run_charts(history: Sequence[dict], checkpoints: Iterable = ()) -> list[SafeString]:
    """The run page's charts: losses, the quality report's figures (from the
    first measurement on), ADA's p."""
    quality = quality_points(history, checkpoints)
    shares = [
        series_from_history(quality, "precision", _("precision")),
        series_from_history(quality, "recall", _("recall")),
        series_from_history(quality, "diversity", _("diversity (generated / real)")),
    ]
    top = max([1.0, *(y for s in shares for _x, y in s.points)])
    return [
        line_chart(
            [
                series_from_history(history, "loss_G", _("G loss")),
                series_from_history(history, "loss_D", _("D loss")),
            ],
            _("Losses"),
        ),
        line_chart(
            [
                series_from_history(quality, "swd", _("SWD (lower is better)")),
                series_from_history(quality, "swd_floor", _("SWD floor (two real halves)")),
            ],
            _("Quality: SWD and its floor"),
        ),
        line_chart(shares, _("Quality: precision, recall and diversity"), y_range=(0, top)),
        line_chart(
            [series_from_history(history, "augment_p", _("augment p"))],
            _("ADA augment probability"),
            y_range=(0, 1),
        ),
    ]
