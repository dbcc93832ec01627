"""Admin helpers: scoping to the organizer's organizations, and saving through the services so that
the admin obeys exactly the rules (validation, conflicts, notifications) that the API does."""

from django.contrib import admin
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction

from accounts.models import Organization, User
from accounts.selectors import organizer_organization_ids
from project.errors import ApplicationError


class OrganizationScopedAdmin:
    """Organizers see, choose and change only what belongs to their own organizations in the admin.

    The list, the change pages and every choice a form offers (organization, series, session,
    city, venue, hosts, list filters) are limited to the signed-in organizer's organizations; a
    superuser sees everything. The services check the same again when the form is saved.
    """

    organization_path = "organization"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        org_ids = organizer_organization_ids(user=request.user)
        if org_ids is None:
            return qs
        return qs.filter(**{f"{self.organization_path}__in": org_ids})

    def get_field_queryset(self, db, db_field, request):
        """The choices of a relation field: only the organizer's own objects (also what the
        field accepts when the form is posted, whatever id is sent)."""
        default = super().get_field_queryset(db, db_field, request)
        org_ids = organizer_organization_ids(user=request.user)
        if org_ids is None:
            return default
        model = db_field.remote_field.model
        scoped = _scoped_choices(model=model, org_ids=org_ids, request=request, admin_site=self.admin_site)
        if scoped is None:
            return default
        return scoped.order_by(*default.query.order_by) if default is not None else scoped

    def get_list_filter(self, request):
        # A related filter lists every object of the related model; these list only the values
        # found among the organizer's own rows.
        return [_related_only(name, self.model) for name in super().get_list_filter(request)]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and "organization" in {f.name for f in self.model._meta.fields}:
            fields.append("organization")  # an object stays in its organization
        return fields


def _scoped_choices(*, model, org_ids: set[int], request, admin_site):
    if model is Organization:
        return Organization.objects.filter(id__in=org_ids)
    if model is User:
        # Hosts: people who belong to one of the organizer's organizations.
        return User.objects.filter(memberships__organization_id__in=org_ids).distinct()
    related_admin = admin_site._registry.get(model)
    if isinstance(related_admin, OrganizationScopedAdmin):
        return related_admin.get_queryset(request)
    return None


def _related_only(name, model):
    if not isinstance(name, str):
        return name
    try:
        field = get_fields_from_path(model, name)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return name
    return (name, admin.RelatedOnlyFieldListFilter) if field.is_relation else name


class _DryRun(Exception):
    """Rolls back the trial save made while validating an admin form."""


class ServiceBackedAdmin:
    """Saves go through ``service_save`` (a call of the app's service) instead of ``obj.save()``.

    The form's ``clean`` runs the same service inside a savepoint that is rolled back, so that a
    rule the service refuses (a conflict, a capacity below the confirmed seats) shows on the form
    as a field error instead of surfacing after the admin has decided to save. Emails queued with
    ``on_commit`` inside the rolled-back savepoint are discarded by Django.
    """

    def service_save(self, request, obj, form, change):
        raise NotImplementedError

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        admin = self

        class ServiceCheckedForm(form_class):
            def clean(self):
                cleaned = super().clean()
                if self.errors:
                    return cleaned
                try:
                    with transaction.atomic():
                        admin.service_save(request, self.instance, self, self.instance.pk is not None)
                        raise _DryRun
                except _DryRun:
                    pass
                except ApplicationError as exc:
                    admin.add_service_errors(self, exc)
                return cleaned

        return ServiceCheckedForm

    @staticmethod
    def add_service_errors(form, exc: ApplicationError) -> None:
        """Each message once: a conflict's messages above the form (they concern several fields),
        other errors on their field, and the summary only when no field took it."""
        if exc.code == "conflict":
            found = [c.get("message") for c in (exc.extra or {}).get("conflicts", [])] or [exc.message]
            for message in dict.fromkeys(m for m in found if m):
                form.add_error(None, str(message))
            return
        shown: set[str] = set()
        for field, messages in (exc.fields or {}).items():
            target = field if field in form.fields else None
            for message in messages if isinstance(messages, list) else [messages]:
                if str(message) not in shown:
                    form.add_error(target, str(message))
                    shown.add(str(message))
        if not shown:
            form.add_error(None, exc.message)

    def save_model(self, request, obj, form, change):
        saved = self.service_save(request, obj, form, change)
        obj.pk = saved.pk
        form.instance = saved

    def save_related(self, request, form, formsets, change):
        # Many-to-many fields were saved by the service; inline formsets are still the admin's.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
