"""Forms of the curation pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from scraper.curation import REJECTION_REASONS


class RejectForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=REJECTION_REASONS)
    note = forms.CharField(label=_("Note (optional)"), max_length=200, required=False)


class ReviewDecisionForm(forms.Form):
    """One decision on the focused review page."""

    ACTIONS = [("approve", _("Approve")), ("reject", _("Reject")), ("skip", _("Skip"))]

    image_id = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=ACTIONS, widget=forms.HiddenInput)
    reason = forms.ChoiceField(label=_("Reason"), choices=REJECTION_REASONS, required=False)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not cleaned.get("reason"):
            self.add_error("reason", _("Choose why the image is rejected."))
        return cleaned
