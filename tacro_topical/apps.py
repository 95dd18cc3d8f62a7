from django.contrib.admin.apps import AdminConfig


class CareTeamAdminConfig(AdminConfig):
    """Django's admin, on the project's own site class (tacro_topical/admin.py)."""

    default_site = "tacro_topical.admin.CareTeamAdminSite"
