"""Patients, their activity timeline and notifications (built in the patients issue)."""
