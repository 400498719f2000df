"""API schemas made from models: one declaration gives the output schema (personal data
masked), the create schema and the partial-update schema."""

from ninja.orm import create_schema

from anyuan.core.personal import EncryptedField


def _masker(name):
    return staticmethod(lambda obj: str(getattr(obj, name)) if getattr(obj, name) else "")


def model_schemas(model, fields: list[str], *, read_only: tuple[str, ...] = (), out_extra=None):
    """(Out, Create, Patch) schemas for ``model``.

    ``fields`` are the writable fields; ``read_only`` are shown but never written.
    Personal-data fields are written in clear and always read back masked.
    """
    personal = {f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)}
    # To-many fields are written as lists of ids. Ninja's own link type lets int() raise
    # TypeError on a null or an object in the list, which pydantic does not turn into a
    # validation error (a 500); a plain list[int] gives a field-level 422 instead.
    to_many = {f.name for f in model._meta.many_to_many}
    name = model.__name__
    plain_out = ["id", *[f for f in (*read_only, *fields) if f not in personal]]
    base_out = create_schema(
        model,
        name=f"{name}OutBase",
        fields=plain_out,
        custom_fields=[(f, str, "") for f in fields if f in personal],
    )
    attrs = {f"resolve_{f}": _masker(f) for f in fields if f in personal}
    attrs.update(out_extra or {})
    Out = type(f"{name}Out", (base_out,), attrs)
    writable = [f for f in fields if f not in personal and f not in to_many]
    id_lists = [(f, list[int], None) for f in fields if f in to_many]
    Create = create_schema(
        model,
        name=f"{name}Create",
        fields=writable,
        custom_fields=[(f, str, "") for f in fields if f in personal] + id_lists,
    )
    Patch = create_schema(
        model,
        name=f"{name}Patch",
        fields=writable,
        optional_fields="__all__",
        custom_fields=[(f, str | None, None) for f in fields if f in personal] + id_lists,
    )
    return Out, Create, Patch
