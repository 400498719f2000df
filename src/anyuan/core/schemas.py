"""API schemas made from models: one declaration gives the output schema (personal data
masked), the create schema and the partial-update schema.

What a model declares in ``disclosure`` (:mod:`anyuan.core.personal`) holds for every
output schema: :func:`disclosing` adds the resolvers that mask derived personal data and
withhold police-only fields from callers who may not see who reported what;
:func:`model_schemas` applies it to the schemas it makes.
"""

from django.db import models
from ninja.orm import create_schema
from pydantic import field_validator

from anyuan.core import personal
from anyuan.core.personal import EncryptedField


def _masker(name):
    return staticmethod(lambda obj: str(getattr(obj, name)) if getattr(obj, name) else "")


def caller(context):
    """The user an answer is for: the request's (API), or ``context["user"]`` when a
    schema is filled in by hand; ``None`` (the least privileged) when unknown."""
    context = context or {}
    if "user" in context:
        return context["user"]
    request = context.get("request")
    return getattr(request, "auth", None) or getattr(request, "user", None)


def _discloser(model, name):
    def resolve(obj, context):
        user = caller(context)
        if user is None:  # nobody known: as if for the least privileged
            from django.contrib.auth.models import AnonymousUser

            user = AnonymousUser()
        return personal._shown(user, model, obj, name)

    return staticmethod(resolve)


def disclosing(model, schema):
    """``schema`` with ``model``'s declared fields masked or withheld per caller."""
    fields = set(schema.model_fields)
    declared = (personal.derived_names(model) | personal.police_only_names(model)) & fields
    if not declared:
        return schema
    attrs = {f"resolve_{name}": _discloser(model, name) for name in sorted(declared)}
    attrs["__module__"] = schema.__module__
    return type(schema.__name__, (schema,), attrs)


def blank_text_fields(model, names) -> list[str]:
    """The fields of ``names`` that are text a user may leave empty but the database does
    not hold as null (``blank=True, null=False``): for these a null means empty text."""
    out = []
    for name in names:
        field = model._meta.get_field(name)
        is_text = isinstance(field, models.CharField | models.TextField)
        if is_text and field.concrete and field.blank and not field.null:
            out.append(name)
    return out


def null_means_empty(schema, names: list[str]):
    """``schema`` reading a null in any of ``names`` as empty text (what a user sending
    null means), so that it is stored as ``""`` rather than refused by the database."""
    if not names:
        return schema

    def empty_for_null(cls, value):
        return "" if value is None else value

    attrs = {
        "__module__": schema.__module__,
        "_null_means_empty": field_validator(*names, mode="before")(classmethod(empty_for_null)),
    }
    return type(schema.__name__, (schema,), attrs)


def model_schemas(model, fields: list[str], *, read_only: tuple[str, ...] = (), out_extra=None):
    """(Out, Create, Patch) schemas for ``model``.

    ``fields`` are the writable fields; ``read_only`` are shown but never written.
    Personal-data fields are written in clear and always read back masked; values derived
    from them are read back masked; police-only fields withheld from those who may not
    see them (:func:`disclosing`).
    """
    personal_fields = {f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)}
    derived = set(personal.disclosure(model).derived)
    # To-many fields are written as lists of ids. Ninja's own link type lets int() raise
    # TypeError on a null or an object in the list, which pydantic does not turn into a
    # validation error (a 500); a plain list[int] gives a field-level 422 instead.
    to_many = {f.name for f in model._meta.many_to_many}
    name = model.__name__
    shown = (*read_only, *fields)
    plain_out = ["id", *[f for f in shown if f not in personal_fields and f not in derived]]
    base_out = create_schema(
        model,
        name=f"{name}OutBase",
        fields=plain_out,
        custom_fields=[(f, str, "") for f in shown if f in personal_fields or f in derived],
    )
    attrs = {f"resolve_{f}": _masker(f) for f in fields if f in personal_fields}
    attrs.update(out_extra or {})
    Out = disclosing(model, type(f"{name}Out", (base_out,), attrs))
    writable = [f for f in fields if f not in personal_fields and f not in to_many]
    id_lists = [(f, list[int], None) for f in fields if f in to_many]
    Create = create_schema(
        model,
        name=f"{name}Create",
        fields=writable,
        custom_fields=[(f, str, "") for f in fields if f in personal_fields] + id_lists,
    )
    Patch = create_schema(
        model,
        name=f"{name}Patch",
        fields=writable,
        optional_fields="__all__",
        custom_fields=[(f, str | None, None) for f in fields if f in personal_fields] + id_lists,
    )
    # A text field a user may leave empty takes null as empty text; any other null in a
    # field the database holds as NOT NULL is refused by the action, on its field.
    empty = blank_text_fields(model, [f for f in fields if f not in to_many])
    return Out, null_means_empty(Create, empty), null_means_empty(Patch, empty)
