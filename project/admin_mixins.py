from accounts.selectors import organizer_organization_ids


class OrganizationScopedAdmin:
    """Organizers see and change only what belongs to their own organizations in the admin."""

    organization_path = "organization"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        org_ids = organizer_organization_ids(user=request.user)
        if org_ids is None:
            return qs
        return qs.filter(**{f"{self.organization_path}__in": org_ids})
