"""The pages' query parameters, validated (the pages' serializers)."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from analytics.errors import AnalyticsError
from analytics.periods import FIRST_DAY, LAST_DAY, Period, PeriodOutOfRange
from server.accounts.scope import Scope
from server.dashboard import places, selectors
from server.dashboard.periods import default_period, quarter_label


def _period(value: str) -> str:
    try:
        return Period.parse(value).label
    except PeriodOutOfRange as exc:
        message = _("时期须在 %(first)s 至 %(last)s 年之间：%(value)s")
        params = {"first": FIRST_DAY.year, "last": LAST_DAY.year, "value": value}
        raise forms.ValidationError(message, params=params) from exc
    except AnalyticsError as exc:
        message = _("无法识别的时期：%(value)s")
        raise forms.ValidationError(message, params={"value": value}) from exc


class _Scoped(forms.Form):
    """A form whose county choices are the counties of the user's scope."""

    period = forms.CharField(max_length=40, required=False)
    county = forms.ChoiceField(required=False)

    def __init__(self, data, *, scope: Scope, today: date) -> None:
        self.scope = scope
        self.counties = places.counties_in_scope(scope)
        self.today = today
        super().__init__(data)
        self.fields["county"].choices = [("", "")] + [(c.code, c.code) for c in self.counties]

    def clean_period(self) -> str:
        return _period(self.cleaned_data.get("period") or default_period(self.today))

    def clean_county(self) -> str | None:
        code = self.cleaned_data.get("county") or None
        if code is None and self.scope.townships is not None and len(self.counties) == 1:
            return self.counties[0].code  # a supervisor of one county: that county
        return code


class CoverageQuery(_Scoped):
    programme = forms.ChoiceField(required=False)
    indicator = forms.ChoiceField(required=False)

    def __init__(self, data, *, scope: Scope, today: date) -> None:
        super().__init__(data, scope=scope, today=today)
        self.fields["programme"].choices = [("", "")] + [
            (p.id, p.id) for p in selectors.programmes()
        ]
        self.fields["indicator"].choices = [("", "")] + [
            (i.id, i.id) for i in selectors.indicators()
        ]

    def clean(self) -> dict:
        data = super().clean()
        all_indicators = selectors.indicators()
        by_id = {i.id: i for i in all_indicators}
        programme = data.get("programme") or None
        indicator = by_id.get(data.get("indicator") or "")
        if programme and (indicator is None or indicator.programme != programme):
            indicator = next(i for i in all_indicators if i.programme == programme)
        indicator = indicator or all_indicators[0]
        data["indicator"] = indicator.id
        data["programme"] = indicator.programme
        return data


class QualityQuery(_Scoped):
    pass


class TownshipQuery(forms.Form):
    until = forms.CharField(max_length=10, required=False)

    def __init__(self, data, *, today: date) -> None:
        self.today = today
        super().__init__(data)

    def clean_until(self) -> str:
        value = self.cleaned_data.get("until") or quarter_label(self.today)
        label = _period(value)
        if "-Q" not in label:
            raise forms.ValidationError(_("请选择一个季度，例如 2026-Q3。"))
        return label
