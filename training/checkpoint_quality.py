"""A checkpoint's quality report as the admin shows it, and the warnings that
make publishing ask for a confirmation.

The report itself is measured by the engine (``training.engine.quality``) on
the checkpoint it belongs to and stored as ``Checkpoint.quality``
(``QualityReport.to_dict()``); this module only reads that dict, so the web
process never imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Checkpoint


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    higher_is_better: bool
    digits: int
    # A change smaller than this is measurement noise, not "worse".
    tolerance: float
    # Where a figure is best at a value rather than high or low (diversity: the
    # collection against itself scores 1.00; above it the pictures scatter
    # wider than paintings do), the one nearer this value is the better.
    best_at: float | None = None


# The figures in the order the admin lists them.
FIGURES = (
    Figure("swd", gettext_lazy("SWD (lower is better)"), False, 2, 0.05),
    Figure("swd_floor", gettext_lazy("SWD floor (two halves of the collection)"), False, 2, 0.0),
    Figure("precision", gettext_lazy("precision"), True, 3, 0.02),
    Figure("recall", gettext_lazy("recall"), True, 3, 0.02),
    Figure(
        "diversity",
        gettext_lazy("diversity (generated / real; the collection's own is 1.00)"),
        True,
        3,
        0.02,
        best_at=1.0,
    ),
    Figure("near_duplicate_rate", gettext_lazy("near-duplicate rate"), False, 3, 0.02),
    Figure(
        "copy_rate",
        gettext_lazy("copy rate (closer to a training image than its neighbours)"),
        False,
        3,
        0.02,
    ),
)
COMPARED = ("swd", "precision", "recall", "diversity", "near_duplicate_rate", "copy_rate")
BY_KEY = {f.key: f for f in FIGURES}


def number(report: dict, key: str) -> float | None:
    value = (report or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def rounded(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


@dataclass
class Row:
    label: str
    value: str
    other: str = ""
    worse: bool = False


@dataclass
class ReportView:
    """What a checkpoint's page and the publish confirmation show of a report."""

    measured: bool
    passed: bool | None
    reasons: list[str]
    kimg: float | None
    rows: list[Row]

    @property
    def kimg_label(self) -> str:
        return "" if self.kimg is None else f"{self.kimg:g}"

    @property
    def verdict(self) -> str:
        if not self.measured:
            return _("not measured")
        return _("passes") if self.passed else _("fails")


def report_view(report: dict | None) -> ReportView:
    report = report or {}
    rows = [Row(str(f.label), rounded(number(report, f.key), f.digits)) for f in FIGURES]
    passed = report.get("passed")
    return ReportView(
        measured=bool(report),
        passed=bool(passed) if passed is not None else None,
        reasons=[str(r) for r in report.get("reasons") or []],
        kimg=number(report, "kimg"),
        rows=rows,
    )


def is_worse(figure: Figure, new: float | None, old: float | None) -> bool:
    if new is None or old is None or figure.key not in COMPARED:
        return False
    if figure.key == "swd":  # SWD's scale depends on the collection: compare the relative change
        return new > old * (1 + figure.tolerance)
    if figure.best_at is not None:
        return abs(new - figure.best_at) > abs(old - figure.best_at) + figure.tolerance
    if figure.higher_is_better:
        return new < old - figure.tolerance
    return new > old + figure.tolerance


def worse_figures(candidate: dict, published: dict) -> list[str]:
    """Where ``candidate`` is worse than ``published``, beyond noise, in words."""
    found = []
    for key in COMPARED:
        figure = BY_KEY[key]
        new, old = number(candidate, key), number(published, key)
        if is_worse(figure, new, old):
            found.append(
                _("%(figure)s is %(new)s, worse than %(old)s of the published checkpoint")
                % {
                    "figure": figure.label,
                    "new": rounded(new, figure.digits),
                    "old": rounded(old, figure.digits),
                }
            )
    return found


def publish_warnings(
    checkpoint: Checkpoint,
    published: Checkpoint | None,
    report: dict | None = None,
    other: dict | None = None,
) -> list[str]:
    """Why publishing ``checkpoint`` deserves a second look: no report, a
    failing report, or a report worse than the currently published one's.
    ``report``/``other``: the reports to judge (default: both checkpoints'
    own; one class's reports for a room of a class-conditional model)."""
    report = (checkpoint.quality or {}) if report is None else report
    warnings: list[str] = []
    if not report:
        warnings.append(_("No quality report was measured on this checkpoint."))
    elif not report.get("passed"):
        reasons = "; ".join(str(r) for r in report.get("reasons") or []) or _("no reason recorded")
        warnings.append(_("Its quality report fails: %(reasons)s.") % {"reasons": reasons})
    if published is not None and published.pk != checkpoint.pk and report:
        other = (published.quality or {}) if other is None else other
        if other.get("passed") and not report.get("passed"):
            warnings.append(_("The published checkpoint's report passes; this one's fails."))
        warnings += worse_figures(report, other)
    return warnings


def side_by_side(candidate: dict, published: dict | None) -> list[Row]:
    """Rows of the candidate's figures beside the published one's, the worse
    of each pair marked."""
    rows = []
    for figure in FIGURES:
        new, old = number(candidate, figure.key), number(published or {}, figure.key)
        rows.append(
            Row(
                str(figure.label),
                rounded(new, figure.digits),
                rounded(old, figure.digits),
                is_worse(figure, new, old),
            )
        )
    return rows
