"""The database backend: django-tenants' PostgreSQL backend, sending `SET search_path` only when it changes.

django-tenants forgets the search_path it has set whenever a schema is entered, so every request (each
enters its practice) sent `SET search_path` again, although a worker's connection usually serves the
same practice request after request. Here entering the schema the connection is already set to keeps
what was set. What makes the setting uncertain still clears it (django-tenants' own rules): closing the
connection, a rollback or a rollback to a savepoint, a failed SET.
"""

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper


class DatabaseWrapper(TenantDatabaseWrapper):
    def set_tenant(self, tenant, include_public=True):
        already_set = self.search_path_set_schemas
        super().set_tenant(tenant, include_public)
        if already_set and already_set == self._get_cursor_search_paths():
            self.search_path_set_schemas = already_set
