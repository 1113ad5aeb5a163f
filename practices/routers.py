from django.db import connection
from django_tenants.utils import get_public_schema_name

# The practices app is installed in both the public and the practice schemas, but each of
# its models belongs to one side only: the practice registry is public, staff are per practice.
PUBLIC_ONLY_MODELS = {"practice", "domain", "supportescalation", "codedirectory", "backgroundtask"}


class PracticeRouter:
    """Places each practices model on its side; everything else falls to TenantSyncRouter."""

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == "practices" and model_name is not None:
            on_public = connection.schema_name == get_public_schema_name()
            return (model_name in PUBLIC_ONLY_MODELS) == on_public
        return None
