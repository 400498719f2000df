"""Pages of the park registry: list, detail, add/edit, delete and reveal for every kind,
and bulk import / export."""

import tempfile

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from anyuan.core import actions, spreadsheets
from anyuan.core import views as generic
from anyuan.core.roles import EXPORT, IMPORT, user_can
from anyuan.registry import exporting
from anyuan.registry.catalog import COLUMNS, DIGEST_SEARCH, FIELDS, LIST_FILTERS, SEARCH
from anyuan.registry.importing import BY_MODEL, KINDS, import_file, jobs
from anyuan.registry.models import ImportJob


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
                max_rows=f"{settings.ANYUAN_IMPORT_MAX_ROWS:,}",
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
        if jobs.in_background(upload.size):
            job = jobs.submit(
                request.user,
                self.kind().name,
                upload,
                filename=upload.name,
                dry_run=form.cleaned_data["dry_run"],
                remote_addr=generic.client_ip(request),
            )
            return HttpResponseRedirect(job.get_absolute_url(), status=303)
        try:
            result = import_file(
                self.kind().name,
                getattr(upload, "file", upload),
                filename=upload.name,
                actor=request.user,
                dry_run=form.cleaned_data["dry_run"],
                remote_addr=generic.client_ip(request),
            )
        except actions.RateLimited as e:
            return generic.rate_limited(request, e)
        return self.page(
            ImportForm(),
            status=200 if result.ok else 400,
            result=result,
            problems=result.problems,
            more=result.more_problems,
        )


class ImportJobView(generic.ObjectMixin, View):
    """A background import: its state and progress (the status reloads itself with htmx
    while the job runs), then its result, as on the import page."""

    model = ImportJob
    template_name = "registry/import_job.html"
    status_template_name = "registry/_import_job_status.html"

    def get(self, request, *args, **kwargs):
        job = self.get_object()
        kind = KINDS.get(job.kind)
        result = job.result or {}
        context = {
            "job": job,
            "interrupted": jobs.interrupted(job),
            "running": job.state in job.OPEN and not jobs.interrupted(job),
            "result": result,
            "problems": result.get("problems", []),
            "more": result.get("more_problems", 0),
            "status_url": request.path,
            "problems_url": reverse("registry:importjob-problems", args=[job.pk]),
            "verbose_name_plural": kind.model._meta.verbose_name_plural if kind else job.kind,
            "import_url": (
                reverse(f"registry:{kind.model._meta.model_name}-import") if kind else None
            ),
        }
        template = self.status_template_name if generic.is_htmx(request) else self.template_name
        return render(request, template, context)


class ImportJobProblemsView(generic.ObjectMixin, View):
    """The problems of a background import as CSV (the listed ones; the count of the rest
    in a last line)."""

    model = ImportJob

    def get(self, request, *args, **kwargs):
        job = self.get_object()
        result = job.result or {}
        lines = [[_("Line"), _("Column"), _("Value"), _("Problem")]]
        for p in result.get("problems", []):
            lines.append([p.get("line") or "", p.get("column", ""), p.get("value", ""),
                          p.get("message", "")])  # fmt: skip
        if result.get("more_problems"):
            more = _("… and %(n)d more problems.") % {"n": result["more_problems"]}
            lines.append(["", "", "", more])
        response = StreamingHttpResponse(
            spreadsheets.csv_chunks(lines), content_type=spreadsheets.CSV_CONTENT_TYPE
        )
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-problems.csv"'
        return response


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
        try:  # a search by an exact ID number or phone is counted here too
            qs = self.rows_to_export()
        except actions.RateLimited as e:
            return generic.rate_limited(self.request, e)
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
        lines = exporting.rows(kind, qs, reveal=reveal, actor=self.request.user)
        if fmt == "csv":
            response = StreamingHttpResponse(
                spreadsheets.csv_chunks(lines), content_type=spreadsheets.CSV_CONTENT_TYPE
            )
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        out = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
        spreadsheets.write_xlsx(lines, out, kind)
        out.seek(0)
        return FileResponse(
            out,
            as_attachment=True,
            filename=filename,
            content_type=spreadsheets.XLSX_CONTENT_TYPE,
        )
