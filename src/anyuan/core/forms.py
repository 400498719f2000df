"""Forms built for a user: every choice of a related object is scoped; personal-data
fields are write-only (left empty, the stored value is kept)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from anyuan.core.personal import EncryptedField
from anyuan.core.roles import VIEW, locked_fields


class ScopedModelForm(forms.ModelForm):
    user = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        locked = locked_fields(self.user, self._meta.model) if self.instance.pk else frozenset()
        for name, field in self.fields.items():
            if name in locked:
                # shown, not editable: the stored value is kept whatever is posted
                field.disabled = True
                field.help_text = _("Maintained by the police station; you cannot change it.")
            model_field = self._meta.model._meta.get_field(name)
            related = getattr(model_field, "related_model", None)
            if related is not None and hasattr(related, "scope"):
                field.queryset = related.objects.restrict(self.user, VIEW)
            if isinstance(model_field, EncryptedField):
                stored = (
                    getattr(self.instance, name, "") if self.instance and self.instance.pk else ""
                )
                field.initial = ""
                self.initial[name] = ""
                field.widget.attrs["autocomplete"] = "off"
                if stored:
                    field.required = False
                    field.widget.attrs["placeholder"] = _("%(masked)s — leave empty to keep") % {
                        "masked": str(stored)
                    }
                    field.help_text = _("Stored encrypted; shown masked.")

    def clean(self):
        data = super().clean()
        for name in list(data):
            model_field = self._meta.model._meta.get_field(name)
            if isinstance(model_field, EncryptedField) and not data.get(name) and self.instance.pk:
                # empty: keep what is stored
                data[name] = getattr(self.instance, name)
        return data

    def changed_cleaned_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields if name in self.cleaned_data}


def scoped_modelform(model, fields, user):
    widgets = {}
    for name in fields:
        f = model._meta.get_field(name)
        if isinstance(f, EncryptedField):
            widgets[name] = forms.TextInput()
        elif f.get_internal_type() == "DateField":
            widgets[name] = forms.DateInput(attrs={"type": "date"})
        elif f.get_internal_type() == "TimeField":
            widgets[name] = forms.TimeInput(attrs={"type": "time"})
        elif f.get_internal_type() == "DateTimeField":
            widgets[name] = forms.DateTimeInput(attrs={"type": "datetime-local"})
    meta = type("Meta", (), {"model": model, "fields": fields, "widgets": widgets})
    return type(f"{model.__name__}Form", (ScopedModelForm,), {"Meta": meta, "user": user})
