"""django-q2 entry points for patients. Enqueued with practices.tasks.enqueue_for_practice, so they run
inside the practice's schema; each is safe to run twice."""

from . import imports, messaging


def send_message(message_id: int) -> str:
    """Deliver one logged SMS; returns its status. A temporary failure raises so django-q2 retries the task."""
    return messaging.deliver_message(message_id=message_id).status


def release_waiting_messages() -> int:
    """Queue the current practice's marketing SMS whose quiet hours have ended; returns how many.

    Listed in settings.PRACTICE_FREQUENT_JOBS, so it runs every five minutes for every practice.
    """
    return messaging.release_waiting_messages()


def redrive_stuck_work() -> int:
    """Queue again the practice's messages and imports whose task was lost; returns how many.

    Listed in settings.PRACTICE_FREQUENT_JOBS.
    """
    return messaging.redrive_stuck_messages() + imports.redrive_stuck_imports()
