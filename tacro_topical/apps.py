from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.signals import user_logged_in


class CareTeamAdminConfig(AdminConfig):
    """Django's admin, on the project's own site class (tacro_topical/admin.py)."""

    default_site = "tacro_topical.admin.CareTeamAdminSite"

    def ready(self) -> None:
        super().ready()
        from tacro_topical.session_timeout import session_clocks_start

        user_logged_in.connect(session_clocks_start, dispatch_uid="tacro_topical.session_clocks_start")
