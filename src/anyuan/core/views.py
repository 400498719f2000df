"""Generic, declarative object views. Every page that shows rows fetches them with
``Model.objects.restrict(user, action)``; a view only declares its model, columns and form.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from anyuan.core import actions
from anyuan.core.forms import scoped_modelform
from anyuan.core.personal import EncryptedField, digest_or_none
from anyuan.core.roles import ADD, CHANGE, DELETE, EXPORT, IMPORT, REVEAL, VIEW, user_can


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class HomeView(LoginRequiredMixin, TemplateView):
    template_name = "home.html"


class ObjectMixin(LoginRequiredMixin):
    """``model`` and ``action`` are declared; ``queryset()`` is scoped for the user."""

    model = None
    action = VIEW
    url_namespace = "registry"

    def queryset(self, action=None):
        return self.model.objects.restrict(self.request.user, action or self.action)

    def get_object(self, action=None):
        try:
            return self.queryset(action).get(pk=self.kwargs["pk"])
        except (self.model.DoesNotExist, ValueError, TypeError):
            raise Http404(_("No such object, or it is outside your scope.")) from None

    def url(self, kind, *args):
        return reverse(f"{self.url_namespace}:{self.model._meta.model_name}-{kind}", args=args)

    def context(self, **extra):
        user = self.request.user
        meta = self.model._meta
        perms = {
            a: user_can(user, self.model, a) for a in (ADD, CHANGE, DELETE, EXPORT, IMPORT, REVEAL)
        }
        return {
            "model_name": meta.model_name,
            "verbose_name": meta.verbose_name,
            "verbose_name_plural": meta.verbose_name_plural,
            "list_url": self.url("list"),
            "add_url": self.url_or_none("add") if perms[ADD] else None,
            "import_url": self.url_or_none("import") if perms[IMPORT] else None,
            "export_url": self.url_or_none("export") if perms[EXPORT] else None,
            "perms": perms,
            **extra,
        }

    def url_or_none(self, kind, *args):
        try:
            return self.url(kind, *args)
        except NoReverseMatch:
            return None


class ObjectListView(ObjectMixin, View):
    columns: list[str] = ["__str__"]
    search_fields: list[str] = ["name"]
    # personal-data fields an exact value may be searched by (through their keyed hash)
    search_digests: list[tuple[str, str]] = []
    filters: list[str] = []
    paginate_by = 50
    template_name = "core/object_list.html"

    def filtered(self):
        qs = self.queryset()
        q = (self.request.GET.get("q") or "").strip()
        if q:
            cond = Q()
            for f in self.search_fields:
                cond |= Q(**{f"{f}__icontains": q})
            for field, kind in self.search_digests:
                d = digest_or_none(kind, q)
                if d:
                    cond |= Q(**{f"{field}_digest": d})
            qs = qs.filter(cond)
        for f in self.filters:
            value = self.request.GET.get(f)
            if value not in (None, ""):
                try:
                    qs = qs.filter(**{f: value})
                except (ValueError, TypeError):
                    qs = qs.none()
        return qs

    def get(self, request, *args, **kwargs):
        from django.core.paginator import Paginator

        qs = self.filtered()
        related = [
            c
            for c in self.columns
            if c in {f.name for f in self.model._meta.concrete_fields if f.many_to_one}
        ]
        if related:
            qs = qs.select_related(*related)
        page = Paginator(qs, self.paginate_by).get_page(request.GET.get("page"))
        headers = [self.column_title(c) for c in self.columns]
        rows = [(obj, [self.cell(obj, c) for c in self.columns]) for obj in page.object_list]
        return render(
            request,
            self.template_name,
            self.context(page=page, headers=headers, rows=rows, q=request.GET.get("q", "")),
        )

    def column_title(self, column):
        if column == "__str__":
            return self.model._meta.verbose_name
        return self.model._meta.get_field(column).verbose_name

    @staticmethod
    def cell(obj, column):
        if column == "__str__":
            return str(obj)
        display = getattr(obj, f"get_{column}_display", None)
        value = display() if display else getattr(obj, column)
        if value is None or value == "":
            return "—"
        if value is True:
            return _("Yes")
        if value is False:
            return _("No")
        return value


class ObjectDetailView(ObjectMixin, View):
    template_name = "core/object_detail.html"
    exclude_fields = ("id", "created", "updated", "path", "depth")

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        user = request.user
        can_reveal = user_can(user, self.model, REVEAL)
        fields = []
        for f in self.model._meta.concrete_fields:
            if (
                f.name in self.exclude_fields
                or f.name.endswith("digest")
                or f.name == "token_prefix"
            ):
                continue
            value = ObjectListView.cell(obj, f.name)
            fields.append(
                {
                    "name": f.name,
                    "label": f.verbose_name,
                    "value": value,
                    "link": getattr(getattr(obj, f.name, None), "get_absolute_url", None)
                    if f.is_relation
                    else None,
                    "personal": isinstance(f, EncryptedField) and bool(getattr(obj, f.name)),
                }
            )
        for f in self.model._meta.many_to_many:
            fields.append(
                {
                    "name": f.name,
                    "label": f.verbose_name,
                    "value": ", ".join(str(o) for o in getattr(obj, f.name).all()[:50]) or "—",
                }
            )
        return render(
            request,
            self.template_name,
            self.context(
                object=obj,
                fields=fields,
                can_reveal=can_reveal,
                edit_url=self.url_or_none("edit", obj.pk)
                if self.queryset(CHANGE).filter(pk=obj.pk).exists()
                else None,
                delete_url=self.url_or_none("delete", obj.pk)
                if self.queryset(DELETE).filter(pk=obj.pk).exists()
                else None,
                reveal_url=self.url_or_none("reveal", obj.pk)
                if self.queryset(REVEAL).filter(pk=obj.pk).exists()
                else None,
            ),
        )


class ObjectEditView(ObjectMixin, View):
    """Add (no pk) or change (pk) through a scoped ModelForm and the generic actions."""

    fields: list[str] = []
    template_name = "core/object_edit.html"

    def form_class(self):
        return scoped_modelform(self.model, self.fields, self.request.user)

    def instance(self):
        if "pk" in self.kwargs:
            return self.get_object(CHANGE)
        if not user_can(self.request.user, self.model, ADD):
            raise PermissionDenied(_("You may not add this."))
        return None

    def get(self, request, *args, **kwargs):
        obj = self.instance()
        form = self.form_class()(instance=obj, initial=request.GET.dict() if obj is None else None)
        return render(request, self.template_name, self.context(form=form, object=obj))

    def post(self, request, *args, **kwargs):
        obj = self.instance()
        form = self.form_class()(request.POST, request.FILES, instance=obj)
        if form.is_valid():
            data = form.changed_cleaned_data()
            try:
                if obj is None:
                    obj = actions.create(
                        request.user, self.model, data, remote_addr=client_ip(request)
                    )
                else:
                    # the form has written into its instance; the action starts from the stored row
                    fresh = self.get_object(CHANGE)
                    obj = actions.update(request.user, fresh, data, remote_addr=client_ip(request))
            except actions.ValidationFailed as e:
                for field, errors in e.errors.items():
                    for err in errors:
                        form.add_error(field if field in form.fields else None, err)
            else:
                messages.success(request, _("Saved."))
                return HttpResponseRedirect(self.url("detail", obj.pk))
        return render(request, self.template_name, self.context(form=form, object=obj), status=400)


class ObjectDeleteView(ObjectMixin, View):
    template_name = "core/object_delete.html"
    action = DELETE

    def get(self, request, *args, **kwargs):
        return render(request, self.template_name, self.context(object=self.get_object()))

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        try:
            actions.delete(request.user, obj, remote_addr=client_ip(request))
        except actions.ValidationFailed as e:
            messages.error(request, " ".join(m for ms in e.errors.values() for m in ms))
            return HttpResponseRedirect(self.url("detail", obj.pk))
        messages.success(request, _("Deleted."))
        return HttpResponseRedirect(self.url("list"))


class RevealForm(forms.Form):
    field = forms.CharField()
    reason = forms.CharField(min_length=4, max_length=500)


class ObjectRevealView(ObjectMixin, View):
    """Shows one personal-data value in clear after asking for a reason (audited)."""

    template_name = "core/reveal.html"
    action = REVEAL

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        return render(
            request,
            self.template_name,
            self.context(object=obj, field=request.GET.get("field", "")),
        )

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        form = RevealForm(request.POST)
        if not form.is_valid():
            return render(
                request,
                self.template_name,
                self.context(object=obj, field=request.POST.get("field", ""), errors=form.errors),
                status=400,
            )
        try:
            value = actions.reveal(
                request.user,
                obj,
                form.cleaned_data["field"],
                form.cleaned_data["reason"],
                remote_addr=client_ip(request),
            )
        except actions.ValidationFailed as e:
            return render(
                request,
                self.template_name,
                self.context(object=obj, field=form.cleaned_data["field"], errors=e.errors),
                status=400,
            )
        except Exception as e:  # FieldDoesNotExist and the like: a bad field name
            from django.core.exceptions import FieldDoesNotExist

            if not isinstance(e, FieldDoesNotExist):
                raise
            return render(
                request,
                self.template_name,
                self.context(object=obj, errors={"field": [_("Unknown field.")]}),
                status=400,
            )
        return render(
            request,
            self.template_name,
            self.context(object=obj, field=form.cleaned_data["field"], value=value),
        )


def object_urls(
    view_module_prefix: str,
    model,
    *,
    list_view,
    detail_view,
    edit_view=None,
    delete_view=None,
    reveal_view=None,
):
    """The standard URL set of one model: list, detail, add, edit, delete, reveal."""
    from django.urls import path

    name = model._meta.model_name
    base = view_module_prefix or name
    patterns = [
        path(f"{base}/", list_view.as_view(model=model), name=f"{name}-list"),
        path(f"{base}/<int:pk>/", detail_view.as_view(model=model), name=f"{name}-detail"),
    ]
    if edit_view:
        patterns += [
            path(f"{base}/add/", edit_view.as_view(model=model), name=f"{name}-add"),
            path(f"{base}/<int:pk>/edit/", edit_view.as_view(model=model), name=f"{name}-edit"),
        ]
    if delete_view:
        patterns.append(
            path(
                f"{base}/<int:pk>/delete/", delete_view.as_view(model=model), name=f"{name}-delete"
            )
        )
    if reveal_view and any(isinstance(f, EncryptedField) for f in model._meta.concrete_fields):
        patterns.append(
            path(
                f"{base}/<int:pk>/reveal/", reveal_view.as_view(model=model), name=f"{name}-reveal"
            )
        )
    return patterns
