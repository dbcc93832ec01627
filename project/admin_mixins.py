"""Admin helpers: scoping to the organizer's organizations, and saving through the services so that
the admin obeys exactly the rules (validation, conflicts, notifications) that the API does."""

from django.db import transaction

from accounts.selectors import organizer_organization_ids
from project.errors import ApplicationError


class OrganizationScopedAdmin:
    """Organizers see and change only what belongs to their own organizations in the admin."""

    organization_path = "organization"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        org_ids = organizer_organization_ids(user=request.user)
        if org_ids is None:
            return qs
        return qs.filter(**{f"{self.organization_path}__in": org_ids})


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
        placed = False
        for field, messages in (exc.fields or {}).items():
            target = field if field in form.fields else None
            for message in messages if isinstance(messages, list) else [messages]:
                form.add_error(target, str(message))
                placed = True
        if not placed or exc.code == "conflict":
            form.add_error(None, exc.message)

    def save_model(self, request, obj, form, change):
        saved = self.service_save(request, obj, form, change)
        obj.pk = saved.pk
        form.instance = saved

    def save_related(self, request, form, formsets, change):
        # Many-to-many fields were saved by the service; inline formsets are still the admin's.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
