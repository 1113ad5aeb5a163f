"""Messages and imports a lost task left behind are picked up by the five-minute sweep; late texts are not sent."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from patients import sms
from patients.messaging import deliver_message, queue_sms
from patients.models import Message, PatientImport
from patients.tasks import redrive_stuck_work
from practices.models import BackgroundTask
from tests.factories import PatientFactory
from tests.patients.test_import import GOOD_BAD_AND_DUPLICATE, new_import


@pytest.fixture(autouse=True)
def empty_outbox():
    sms.reset_outbox()
    yield
    sms.reset_outbox()


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def later(**delta):
    return time_machine.travel(timezone.now() + timedelta(**delta), tick=False)


def test_a_message_left_queued_without_its_task_is_sent_by_the_sweep(alpha, commit):
    patient = PatientFactory()
    message = queue_sms(to=patient.phone, body="Your voucher is ready.", purpose="transactional", patient=patient)
    BackgroundTask.objects.all().delete()  # the task was lost (a broker that dropped it, say)

    with commit():
        assert redrive_stuck_work() == 0  # not yet: its task may still be on its way
    with later(minutes=11), commit():
        assert redrive_stuck_work() == 1

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert [m.body for m in sms.outbox] == ["Your voucher is ready."]
    with later(minutes=22), commit():
        assert redrive_stuck_work() == 0
    assert len(sms.outbox) == 1


def test_a_message_whose_task_is_waiting_for_a_retry_is_left_to_it(alpha, commit):
    patient = PatientFactory()
    queue_sms(to=patient.phone, body="Your voucher is ready.", purpose="transactional", patient=patient)
    with later(minutes=11), commit():
        assert redrive_stuck_work() == 0  # its task is still pending: one task per message
    assert BackgroundTask.objects.filter(func="patients.tasks.send_message").count() == 1


def test_a_sign_in_code_is_not_sent_after_it_expired(alpha):
    message = queue_sms(to="+14155552671", body="Alpha: your code is 123456.", purpose=Message.Purpose.LOGIN_CODE)
    with later(minutes=11):
        deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert "expired" in message.error
    assert "123456" not in message.body
    assert sms.outbox == []


def test_a_text_more_than_a_day_late_is_not_sent(alpha):
    message = queue_sms(to="+14155552671", body="Happy birthday!", purpose="transactional")
    with later(days=1, minutes=1):
        deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert (message.status, message.error) == (Message.Status.FAILED, "Not sent: it could not be sent within a day.")
    assert sms.outbox == []


def test_an_import_left_running_is_finished_by_the_sweep(alpha, commit):
    patient_import = new_import(GOOD_BAD_AND_DUPLICATE)
    PatientImport.objects.filter(pk=patient_import.pk).update(status=PatientImport.Status.RUNNING)

    with later(minutes=5), commit():
        assert redrive_stuck_work() == 1

    patient_import.refresh_from_db()
    assert patient_import.status == PatientImport.Status.DONE
    assert (patient_import.created_count, patient_import.updated_count, patient_import.error_count) == (2, 1, 3)
