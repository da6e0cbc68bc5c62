"""Durations as staff read them: "3 min 05 s", "2 h 10 min", "12 days", "3.4 years"."""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    days = seconds / 86400
    if days >= 365 * 2:
        return f"{days / 365.25:,.1f} years"
    if days >= 2:
        return f"{days:,.0f} days"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
