from django.conf import settings
from django.db import connection
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.migration_executors import get_executor
from django_tenants.utils import get_public_schema_name


class Command(MigrateSchemasCommand):
    """django-tenants' migrate_schemas, which also keeps the practice template schema migrated.

    New practices are cloned from that template (TENANT_BASE_SCHEMA) instead of replaying every
    migration, so it must always be at the latest migration.
    """

    def handle(self, *args, **options):
        super().handle(*args, **options)
        template = settings.TENANT_BASE_SCHEMA
        if not self.sync_tenant or (self.schema_name and self.schema_name not in (template, get_public_schema_name())):
            return
        if self.schema_name == template:
            return  # the parent command just migrated it
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{template}"')
        executor = get_executor(codename=self.executor)(self.args, self.options)
        executor.run_migrations(tenants=[template])
