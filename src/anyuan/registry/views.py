"""Pages of the park registry: list, detail, add/edit, delete and reveal for every kind,
and bulk import / export."""

import tempfile

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from anyuan.core import actions
from anyuan.core import views as generic
from anyuan.core.roles import EXPORT, IMPORT, user_can
from anyuan.registry import exporting
from anyuan.registry.catalog import COLUMNS, DIGEST_SEARCH, FIELDS, LIST_FILTERS, SEARCH
from anyuan.registry.importing import BY_MODEL, import_file


def list_view(model):
    return type(
        f"{model.__name__}ListView",
        (generic.ObjectListView,),
        {
            "model": model,
            "columns": COLUMNS[model],
            "search_fields": SEARCH.get(model, ["name"] if hasattr(model, "name") else []),
            "search_digests": DIGEST_SEARCH.get(model, []),
            "filters": LIST_FILTERS.get(model, []),
        },
    )


def edit_view(model):
    return type(
        f"{model.__name__}EditView",
        (generic.ObjectEditView,),
        {"model": model, "fields": FIELDS[model]},
    )


# --- bulk import and export ----------------------------------------------------------------

# A page lists at most this many problems (the command line and the API list all of them).
PROBLEMS_SHOWN = 2000


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File (CSV or XLSX)"))
    dry_run = forms.BooleanField(
        label=gettext_lazy("Only check the file, import nothing"), required=False
    )


class ImportView(generic.ObjectMixin, View):
    """Upload a CSV/XLSX file of one kind: all rows are imported, or none (with a report)."""

    accepts_uploads = True  # signed-in requests may send up to the upload limit (core/bodylimit.py)
    action = IMPORT
    template_name = "registry/import.html"

    def kind(self):
        return BY_MODEL[self.model]

    def require(self):
        if not user_can(self.request.user, self.model, IMPORT):
            raise PermissionDenied(_("You may not import these records."))

    def page(self, form, status=200, **extra):
        kind = self.kind()
        return render(
            self.request,
            self.template_name,
            self.context(
                form=form,
                kind=kind.name,
                columns=kind.columns,
                max_mb=settings.ANYUAN_IMPORT_MAX_BYTES // (1024 * 1024),
                **extra,
            ),
            status=status,
        )

    def get(self, request, *args, **kwargs):
        self.require()
        return self.page(ImportForm())

    def too_large(self):
        message = _("The file is too large: at most %(mb)d MB can be imported at once.") % {
            "mb": settings.ANYUAN_IMPORT_MAX_BYTES // (1024 * 1024)
        }
        return self.page(ImportForm(), status=413, refusal=message)

    def post(self, request, *args, **kwargs):
        self.require()
        limit = settings.ANYUAN_IMPORT_MAX_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit + 64 * 1024:  # the form fields around the file take a little room
            return self.too_large()
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.page(form, status=400)
        upload = form.cleaned_data["file"]
        if upload.size > limit:
            return self.too_large()
        result = import_file(
            self.kind().name,
            getattr(upload, "file", upload),
            filename=upload.name,
            actor=request.user,
            dry_run=form.cleaned_data["dry_run"],
            remote_addr=generic.client_ip(request),
        )
        return self.page(
            ImportForm(),
            status=200 if result.ok else 400,
            result=result,
            problems=result.problems[:PROBLEMS_SHOWN],
            more=max(len(result.problems) - PROBLEMS_SHOWN, 0),
        )


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        label=gettext_lazy("Format"), choices=[("csv", "CSV"), ("xlsx", "XLSX")]
    )
    reveal = forms.BooleanField(label=gettext_lazy("Personal data in clear"), required=False)
    reason = forms.CharField(
        label=gettext_lazy("Why do you need it in clear?"), required=False, max_length=500
    )


class ExportView(generic.ObjectMixin, View):
    """Download the rows in scope in the import format's columns (personal data masked
    unless revealed for a reason; every export is audited)."""

    action = EXPORT
    template_name = "registry/export.html"

    def kind(self):
        return BY_MODEL[self.model]

    def require(self):
        if not user_can(self.request.user, self.model, EXPORT):
            raise PermissionDenied(_("You may not export these records."))

    def page(self, form, status=200, **extra):
        return render(
            self.request,
            self.template_name,
            self.context(
                form=form,
                kind=self.kind().name,
                personal=exporting.has_personal_data(self.kind().name),
                filtered=any(k != "format" for k in self.request.GET),
                **extra,
            ),
            status=status,
        )

    def rows_to_export(self):
        """The rows of the list page with the same search and filters (``request.GET``),
        restricted for the *export* action."""
        lister = list_view(self.model)()
        lister.setup(self.request)
        lister.action = EXPORT
        return lister.filtered()

    def get(self, request, *args, **kwargs):
        self.require()
        if "format" not in request.GET:
            return self.page(ExportForm())
        form = ExportForm({"format": request.GET.get("format")})
        if not form.is_valid():
            return self.page(form, status=400)
        return self.download(form.cleaned_data["format"], reveal=False, reason="")

    def post(self, request, *args, **kwargs):
        self.require()
        form = ExportForm(request.POST)
        if not form.is_valid():
            return self.page(form, status=400)
        data = form.cleaned_data
        return self.download(
            data["format"], reveal=data["reveal"], reason=data["reason"], form=form
        )

    def download(self, fmt, *, reveal, reason, form=None):
        kind = self.kind().name
        reveal = reveal and exporting.has_personal_data(kind)
        qs = self.rows_to_export()
        try:
            exporting.authorise(
                kind,
                self.request.user,
                count=qs.count(),
                fmt=fmt,
                reveal=reveal,
                reason=reason,
                remote_addr=generic.client_ip(self.request),
            )
        except actions.ValidationFailed as e:
            form = form or ExportForm({"format": fmt})
            form.is_valid()
            for errors in e.errors.values():
                for err in errors:
                    form.add_error("reason" if "reason" in form.fields else None, err)
            return self.page(form, status=400)
        filename = f"{kind}-{timezone.localdate():%Y%m%d}.{fmt}"
        lines = exporting.rows(kind, qs, reveal=reveal)
        if fmt == "csv":
            response = StreamingHttpResponse(
                exporting.csv_chunks(lines), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        out = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
        exporting.write_xlsx(lines, out, kind)
        out.seek(0)
        return FileResponse(
            out,
            as_attachment=True,
            filename=filename,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
