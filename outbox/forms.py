"""The email choices: one checkbox per topic, checked when the user wants its email."""

from __future__ import annotations

from typing import Any

from django import forms

from outbox.topics import TOPICS


class EmailChoicesForm(forms.Form):
    def __init__(self, *args: Any, choices: dict[str, bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for topic in TOPICS:
            self.fields[topic.key] = forms.BooleanField(
                label=topic.label, help_text=topic.help, required=False, initial=choices.get(topic.key, True)
            )
