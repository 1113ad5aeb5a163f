from django.db import migrations

# Ledger entries are history: once written they are never changed or removed. The service layer
# never tries; this trigger makes sure nothing else (a shell, a bad migration, raw SQL) can either.
FORWARD = """
CREATE FUNCTION loyalty_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'loyalty_ledgerentry is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER loyalty_ledger_append_only
    BEFORE UPDATE OR DELETE ON loyalty_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION loyalty_ledger_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS loyalty_ledger_append_only ON loyalty_ledgerentry;
DROP FUNCTION IF EXISTS loyalty_ledger_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_points_engine")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
