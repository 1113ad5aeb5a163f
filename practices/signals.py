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
    if not Schedule.objects.filter(name=DAILY_SCHEDULE_NAME).exists():
        Schedule.objects.create(
            name=DAILY_SCHEDULE_NAME,
            func="practices.tasks.run_daily_jobs",
            schedule_type=Schedule.DAILY,
            next_run=now.replace(hour=7, minute=0, second=0, microsecond=0) + timezone.timedelta(days=1),
            repeats=-1,
        )
    if not Schedule.objects.filter(name=FREQUENT_SCHEDULE_NAME).exists():
        Schedule.objects.create(
            name=FREQUENT_SCHEDULE_NAME,
            func="practices.tasks.run_frequent_jobs",
            schedule_type=Schedule.MINUTES,
            minutes=5,
            next_run=now,
            repeats=-1,
        )
    if not Schedule.objects.filter(name=REDRIVE_SCHEDULE_NAME).exists():
        # The outbox sweep: tasks whose hand-over to the queue was lost, or that failed and are due again.
        Schedule.objects.create(
            name=REDRIVE_SCHEDULE_NAME,
            func="practices.tasks.redrive_tasks",
            schedule_type=Schedule.MINUTES,
            minutes=1,
            next_run=now,
            repeats=-1,
        )


@receiver(password_changed)
def clear_one_time_password(sender, request, user, **kwargs) -> None:
    if connection.schema_name == get_public_schema_name():
        return  # a platform operator: no staff members in the platform's schema
    from .models import StaffMember

    StaffMember.objects.filter(user=user, must_change_password=True).update(must_change_password=False)
