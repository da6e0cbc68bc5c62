"""Admin forms that ask a checkpoint for paintings and mixing exhibits."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class GenerateForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=1000, initial=16, label=_("Paintings"))
    psi = forms.FloatField(min_value=0.0, max_value=2.0, initial=0.7, label=_("Truncation ψ"))


class MixingForm(forms.Form):
    rows = forms.IntegerField(min_value=1, max_value=8, initial=3, label=_("Rows (sources A)"))
    columns = forms.IntegerField(min_value=1, max_value=8, initial=4, label=_("Columns (sources B)"))
