from practices.errors import DomainError


class PatientError(DomainError):
    code = "patient_error"


class InvalidPhone(PatientError):
    code = "invalid_phone"


class PhoneTaken(PatientError):
    code = "phone_taken"
    status = 409


class SignupInProgress(PatientError):
    code = "signup_in_progress"
    status = 409
