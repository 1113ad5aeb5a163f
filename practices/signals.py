from allauth.account.signals import password_changed
from django.db import connection
from django.dispatch import receiver
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

DAILY_SCHEDULE_NAME = "Daily jobs for every practice"
FREQUENT_SCHEDULE_NAME = "Frequent jobs for every practice"
REDRIVE_SCHEDULE_NAME = "Re-drive background tasks"


def ensure_daily_schedule(sender, **kwargs) -> None:
    """After the public schema migrates, make sure the fan-out schedules exist (once each)."""
    if connection.schema_name != get_public_schema_name():
        return
    from django_q.models import Schedule

    now = timezone.now()
    schedules = [
        # name, function, type, minutes, first run
        (
            DAILY_SCHEDULE_NAME,
            "practices.tasks.run_daily_jobs",
            Schedule.DAILY,
            None,
            now.replace(hour=7, minute=0, second=0, microsecond=0) + timezone.timedelta(days=1),
        ),
        (FREQUENT_SCHEDULE_NAME, "practices.tasks.run_frequent_jobs", Schedule.MINUTES, 5, now),
        # The outbox sweep: tasks whose hand-over to the queue was lost, or that failed and are due again.
        (REDRIVE_SCHEDULE_NAME, "practices.tasks.redrive_tasks", Schedule.MINUTES, 1, now),
    ]
    for name, func, schedule_type, minutes, next_run in schedules:
        if not Schedule.objects.filter(name=name).exists():
            Schedule.objects.create(
                name=name, func=func, schedule_type=schedule_type, minutes=minutes, next_run=next_run, repeats=-1
            )


@receiver(password_changed)
def clear_one_time_password(sender, request, user, **kwargs) -> None:
    if connection.schema_name == get_public_schema_name():
        return  # a platform operator: no staff members in the platform's schema
    from .models import StaffMember

    StaffMember.objects.filter(user=user, must_change_password=True).update(must_change_password=False)
