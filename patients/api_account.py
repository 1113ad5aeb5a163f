"""Patient API for the account itself: a new mobile number (with the code texted to it), the data download,
closing the account. The same services as the profile pages (patients.views_account)."""

from allauth.account import app_settings as allauth_settings
from allauth.core.exceptions import RateLimited
from django.contrib.auth import logout
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from . import ratelimits
from .access import patient_of
from .api import MeSerializer
from .api_permissions import IsPatient
from .closing import close_account
from .phone_change import confirm_phone_change, start_phone_change
from .views_account import zip_response

TAG = "me"


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response={"$ref": "#/components/schemas/Error"}, description=description)


class PhoneIn(serializers.Serializer):
    phone = serializers.CharField(
        max_length=32, help_text="The new mobile number, in any usual format (read in the practice's country)."
    )


class PhoneOut(serializers.Serializer):
    phone = serializers.CharField(help_text="The new number (E.164) the code was texted to.")
    expires_in = serializers.IntegerField(help_text="Seconds the code is valid for.")


class PhoneCodeIn(serializers.Serializer):
    code = serializers.CharField(max_length=6, help_text="The 6-digit code from the text message.")


class CloseIn(serializers.Serializer):
    confirm = serializers.BooleanField(help_text="Must be true: the account is closed for good.")

    def validate_confirm(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError("Send confirm: true to close the account for good.")
        return value


class MePhone(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=[TAG],
        operation_id="me_phone_change",
        summary="Change the mobile number: text a code to the new one",
        description="The number in use changes only once the code is sent to `/api/v1/me/phone/confirm`. "
        "A new request replaces the one waiting. 409 `phone_taken` when another account has the number; "
        "400 `invalid_phone` or `same_phone`; 429 over the limit of codes to a number (3 per 10 minutes).",
        request=PhoneIn,
        responses={202: PhoneOut, 409: _error("Another account uses this number (`phone_taken`).")},
    )
    def post(self, request):
        data = PhoneIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            change = start_phone_change(
                patient=patient_of(request.user), phone=data.validated_data["phone"], request=request._request
            )
        except RateLimited:
            raise Throttled(wait=ratelimits.seconds_until_allowed(request._request, action="verify_phone")) from None
        return Response(
            PhoneOut({"phone": change.phone, "expires_in": allauth_settings.PHONE_VERIFICATION_TIMEOUT}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class MePhoneConfirm(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=[TAG],
        operation_id="me_phone_confirm",
        summary="Confirm the new mobile number with its code",
        description="Answers the profile with the new `phone`. A wrong code is 400 `incorrect_code` (five wrong "
        "codes drop the change: 409 `too_many_attempts`); no change waiting, or its code expired, is 409 "
        "`no_code_waiting`; a number taken meanwhile is 409 `phone_taken`.",
        request=PhoneCodeIn,
        responses={
            200: MeSerializer,
            409: _error("Nothing waiting for a code, too many wrong codes, or the number was taken meanwhile."),
        },
    )
    def post(self, request):
        data = PhoneCodeIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient = confirm_phone_change(patient=patient_of(request.user), code=data.validated_data["code"])
        return Response(MeSerializer(patient).data)


class ErrorsInJson(DefaultContentNegotiation):
    """The zip is the answer whatever `Accept` says (`application/zip` included, which no renderer offers);
    an error is JSON, in the one error shape, rather than a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MeData(APIView):
    permission_classes = [IsPatient]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = ErrorsInJson

    @extend_schema(
        tags=[TAG],
        operation_id="me_data",
        summary="Download everything the practice keeps about the patient",
        description="A zip, streamed: `data.json` (every table under its name) and one CSV file per table "
        "(profile, ledger, purchases, vouchers, referrals, referral_code, text_messages, inbox).",
        responses={(200, "application/zip"): OpenApiResponse(response=OpenApiTypes.BINARY, description="The zip.")},
    )
    def get(self, request):
        return zip_response(patient_of(request.user))


class MeClose(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=[TAG],
        operation_id="me_close",
        summary="Close the account for good",
        description="Personal data is erased (name, phone, email, birthday, push subscriptions, the text of "
        "messages), the points and unused vouchers are lost, the referral code stops working and the session "
        "token ends: later calls with it are 401.",
        request=CloseIn,
        responses={204: None},
    )
    def post(self, request):
        data = CloseIn(data=request.data)
        data.is_valid(raise_exception=True)
        close_account(patient=patient_of(request.user))
        if hasattr(request.auth, "flush"):
            request.auth.flush()  # the app's session (X-Session-Token)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
