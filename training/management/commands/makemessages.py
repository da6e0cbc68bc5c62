"""`manage.py makemessages` that keeps the start form's option labels in the catalogue.

The labels and help texts of the training options on the admin's start form are made
from the engine's option declarations at run time (`training.forms.option_messages`), so
xgettext finds no literal for them and Django's own command would drop their
translations from `locale/*/LC_MESSAGES/django.po` as obsolete. This command adds them
to the template catalogue (the .pot) before it is merged into each language's file.
"""

from __future__ import annotations

import os

from django.core.management.base import CommandError
from django.core.management.commands import makemessages
from django.core.management.utils import popen_wrapper

from training.forms import admin_options, option_messages

SOURCE = "training/forms.py"


def po_string(text: str) -> str:
    """`text` as a PO string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def option_catalogue() -> str:
    """The start form's option messages as PO entries with empty translations."""
    entries = []
    seen: set[str] = set()
    for spec in admin_options():
        for message in option_messages(spec):
            if not message or message in seen:
                continue
            seen.add(message)
            entries.append(
                f"#. Training option {spec.name!r} on the admin's start form (made at run time)\n"
                f"#: {SOURCE}\n"
                f"msgid {po_string(message)}\n"
                'msgstr ""\n'
            )
    return "\n".join(entries)


class Command(makemessages.Command):
    help = makemessages.Command.help + " Keeps the training options' labels and help, made at run time."

    def build_potfiles(self):
        potfiles = super().build_potfiles()
        if self.domain != "django":
            return potfiles
        extra = option_catalogue()
        # Only the project's catalogue (LOCALE_PATHS[0]): an app's own locale folder has no start form.
        project = os.path.join(self.default_locale_path or "", f"{self.domain}.pot")
        for potfile in (p for p in potfiles if os.path.abspath(p) == os.path.abspath(project)):
            with open(potfile, "a", encoding="utf-8") as fp:
                fp.write("\n" + extra)
            # msguniq again: a message the source also has literally appears once.
            msgs, errors, status = popen_wrapper(["msguniq", *self.msguniq_options, potfile])
            if status:
                raise CommandError(f"errors happened while running msguniq\n{errors}")
            with open(potfile, "w", encoding="utf-8") as fp:
                fp.write(makemessages.normalize_eols(msgs))
        return potfiles
