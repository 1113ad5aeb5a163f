from allauth.account.models import EmailAddress
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User

from .api_permissions import IsPatient
from .forms import sms_consent_wording, validate_birthday
from .services import request_email_change, update_profile


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    phone = serializers.CharField(source="user.phone", read_only=True)
    first_name = serializers.CharField(source="user.first_name", max_length=150)
    last_name = serializers.CharField(source="user.last_name", max_length=150)
    email = serializers.EmailField(
        source="user.email",
        allow_blank=True,
        allow_null=True,
        required=False,
        help_text="The address in use. Changing it emails a confirmation link to the new address, which is used "
        "(and shown here) once the link is opened; until then it is `email_to_confirm`. Empty removes it.",
    )
    email_verified = serializers.SerializerMethodField(
        help_text="Whether the address in use was confirmed: only then can the patient sign in with it by code."
    )
    email_to_confirm = serializers.SerializerMethodField(help_text="A new address waiting for its link to be opened.")
    birthday = serializers.DateField(allow_null=True, validators=[validate_birthday])
    status = serializers.CharField(read_only=True)
    signup_code = serializers.CharField(read_only=True)
    joined_at = serializers.DateTimeField(read_only=True)
    sms_consent = serializers.BooleanField(required=False)
    sms_consent_at = serializers.DateTimeField(read_only=True, allow_null=True)
    sms_opted_out = serializers.SerializerMethodField()
    notify_by_sms = serializers.BooleanField(required=False)
    notify_by_push = serializers.BooleanField(required=False)

    def get_sms_opted_out(self, patient) -> bool:
        return patient.sms_opted_out_at is not None

    def get_email_verified(self, patient) -> bool:
        email = patient.user.email
        return (
            bool(email) and EmailAddress.objects.filter(user=patient.user, email__iexact=email, verified=True).exists()
        )

    def get_email_to_confirm(self, patient) -> str | None:
        waiting = EmailAddress.objects.filter(user=patient.user, verified=False).order_by("pk").last()
        return waiting.email if waiting else None

    def validate_email(self, value):
        value = (value or "").strip()
        patient = self.instance
        if value and User.objects.filter(email__iexact=value).exclude(pk=patient.user_id).exists():
            raise serializers.ValidationError("Another account already uses this email address.")
        return value


class Me(APIView):
    """The signed-in patient's profile and notification preferences."""

    permission_classes = [IsPatient]

    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        return Response(MeSerializer(request.user.patient).data)

    @extend_schema(request=MeSerializer, responses={200: MeSerializer})
    def patch(self, request):
        patient = request.user.patient
        data = MeSerializer(patient, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        user_values = values.pop("user", {})
        patient = update_profile(
            patient=patient,
            first_name=user_values.get("first_name"),
            last_name=user_values.get("last_name"),
            birthday=values.get("birthday"),
            sms_consent=values.get("sms_consent"),
            sms_consent_text=sms_consent_wording(),
            notify_by_sms=values.get("notify_by_sms"),
            notify_by_push=values.get("notify_by_push"),
        )
        if "email" in user_values:
            request_email_change(request=request._request, patient=patient, email=user_values["email"] or "")
        patient.refresh_from_db()
        return Response(MeSerializer(patient).data)
