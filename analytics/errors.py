"""The one error type of the analytics package."""

from __future__ import annotations


class AnalyticsError(Exception):
    """Coverage analytics could not be produced: a bad period or configuration, an
    unknown indicator or county, an unreadable cache. The message says which and why."""
