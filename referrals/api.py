"""The referral API for patients: their code, link and QR code, the program's terms, the friends they
referred, and "text a friend".

Endpoints take the patient's session (cookie or X-Session-Token). Refusals of "text a friend" (a bad
number, a member's number, too many texts) come out of the service as domain errors, which the API
renders as `{"error": {"code", "message", "fields"}}` with a 4xx status.
"""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api_pos import ErrorOut
from patients.api_permissions import IsPatient
from practices.pagination import PageNumberPagination

from . import services
from .codes import code_for_patient
from .models import Referral, ReferralReward
from .qr import qr_svg_inline
from .selectors import friend_rows, patient_code, patient_referral_summary, patient_referrals, shareable_code
from .views_patient import qr_png_response

ERRORS = {401: ErrorOut, 403: ErrorOut}
TAG = "referrals"

# ---------------------------------------------------------------- output


class NullIfEmpty(serializers.CharField):
    def to_representation(self, value):
        return value or None


class MilestoneOut(serializers.Serializer):
    count = serializers.IntegerField(help_text="Qualified referrals needed.")
    points = serializers.IntegerField()


class ProgramOut(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="False while the practice has referrals turned off.")
    referee_reward = NullIfEmpty(allow_null=True, help_text='What the friend gets, e.g. "250 points"; null: nothing.')
    referrer_reward = NullIfEmpty(allow_null=True, help_text="What the patient gets per friend; null: nothing.")
    min_purchase_cents = serializers.IntegerField(help_text="The friend's first purchase of at least this qualifies.")
    yearly_limit = serializers.IntegerField(allow_null=True, help_text="Referrals per calendar year; null: no limit.")
    remaining_this_year = serializers.IntegerField(allow_null=True, help_text="Null when there is no limit.")
    milestones = MilestoneOut(many=True)


class StatsOut(serializers.Serializer):
    friends_joined_count = serializers.IntegerField(help_text="Friends who joined with the code (and counted).")
    friends_rewarded_count = serializers.IntegerField()
    points_earned = serializers.IntegerField(help_text="Points earned for referring friends, less any taken back.")


class FriendRewardOut(serializers.Serializer):
    role = serializers.CharField(help_text=f"One of: {', '.join(ReferralReward.Role.values)}.")
    role_label = serializers.CharField(source="get_role_display")
    kind = serializers.CharField()
    label = serializers.CharField(help_text='"500 points", "$25.00 credit", "10% off".')
    points = serializers.IntegerField()
    milestone_count = serializers.IntegerField(allow_null=True)
    is_reversed = serializers.SerializerMethodField(help_text="Taken back because the purchase was refunded.")

    def get_is_reversed(self, reward: ReferralReward) -> bool:
        return reward.reversed_at is not None


# Plain strings (their values listed) rather than enums: an enum named "status" would take the name of the
# vouchers' status enum in the schema and rename that one.
STATUS_HELP = f"One of: {', '.join(Referral.Status.values)}."


class FriendOut(serializers.Serializer):
    id = serializers.IntegerField()
    friend = serializers.CharField(help_text="First name and last initial.")
    status = serializers.CharField(help_text=STATUS_HELP)
    status_label = serializers.CharField(help_text="The status in plain words, with the reason when not counted.")
    reason = serializers.CharField(help_text="Why it did not count (a Referral reason code); empty otherwise.")
    joined_at = serializers.DateTimeField()
    rewards = FriendRewardOut(many=True, help_text="What the patient got for this friend.")


class FriendPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = FriendOut(many=True)


class JoinedWithOut(serializers.Serializer):
    code = serializers.CharField(help_text="The code as the patient entered it.")
    status = serializers.CharField(help_text=STATUS_HELP)
    message = serializers.CharField(help_text="What became of it, for the patient (why, when it did not count).")


class MeReferralsOut(serializers.Serializer):
    code = serializers.CharField(help_text="The patient's own referral code.")
    can_share = serializers.BooleanField(help_text="The program is on and the code is active.")
    share_url = serializers.URLField(allow_null=True, help_text="The invite link; null when sharing is paused.")
    qr_svg = serializers.CharField(allow_null=True, help_text="An inline <svg> QR code of the link (?src=qr).")
    qr_png_url = serializers.URLField(allow_null=True, help_text="The QR code as a PNG with the practice's logo.")
    program = ProgramOut()
    stats = StatsOut()
    referrals = FriendPageOut(help_text="The friends referred, newest first (paginated: ?page=).")
    joined_with = JoinedWithOut(allow_null=True, help_text="The code the patient joined with, if any.")


class InviteIn(serializers.Serializer):
    phone = serializers.CharField(max_length=32, help_text="The friend's mobile number, as typed.")
    name = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class InviteOut(serializers.Serializer):
    message_id = serializers.IntegerField()
    status = serializers.CharField(help_text='"queued": the text goes out in a moment.')


# ---------------------------------------------------------------- endpoints


@extend_schema(tags=[TAG])
class MeReferrals(GenericAPIView):
    """The signed-in patient's code, link, QR code, the program's terms, their friends and the code they joined with."""

    permission_classes = [IsPatient]
    pagination_class = PageNumberPagination
    serializer_class = MeReferralsOut

    @extend_schema(
        operation_id="me_referrals",
        parameters=[
            OpenApiParameter("page", int, description="The page of friends (`referrals`), from 1."),
            OpenApiParameter("page_size", int, description="Friends a page (default 50, at most 200)."),
        ],
        responses={200: MeReferralsOut, **ERRORS},
    )
    def get(self, request):
        patient = request.user.patient
        # Anyone who has no code yet (say, a member from before the program) gets one now.
        summary = patient_referral_summary(patient=patient, code=code_for_patient(patient))
        page = self.paginate_queryset(patient_referrals(patient=patient))
        can_share = summary.can_share
        data = {
            "code": summary.code.code,
            "can_share": can_share,
            "share_url": services.share_url(summary.code) if can_share else None,
            "qr_svg": str(qr_svg_inline(services.share_url(summary.code, source="qr"), "Your invite QR code"))
            if can_share
            else None,
            "qr_png_url": request.build_absolute_uri(reverse("api:me_referral_qr")) if can_share else None,
            "program": summary.program,
            "stats": summary,
            "referrals": {
                "count": self.paginator.page.paginator.count,
                "next": self.paginator.get_next_link(),
                "previous": self.paginator.get_previous_link(),
                "results": friend_rows(page),
            },
            "joined_with": summary.joined_with,
        }
        return Response(MeReferralsOut(data).data)


@extend_schema(tags=[TAG])
class MeReferralInvite(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        operation_id="me_referrals_invite",
        summary="Text a friend the patient's invite link",
        description="Sends the friend an SMS from the practice. 400 for an invalid number, the patient's own or a "
        "member's (`fields.phone`), or while sharing is paused; 429 after five texts in a day or when the number "
        "got an invitation in the last week.",
        request=InviteIn,
        responses={201: InviteOut, 400: ErrorOut, 429: ErrorOut, **ERRORS},
    )
    def post(self, request):
        data = InviteIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient = request.user.patient
        message = services.text_a_friend(
            patient=patient,
            code=patient_code(patient=patient, code=code_for_patient(patient)),
            phone=data.validated_data["phone"],
            friend_name=data.validated_data["name"],
        )
        return Response(InviteOut({"message_id": message.pk, "status": message.status}).data, status=201)


@extend_schema(tags=[TAG])
class MeReferralQr(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        operation_id="me_referrals_qr_png",
        summary="The patient's invite QR code as a PNG",
        description="With the practice's logo in the centre; 404 while sharing is paused.",
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
            404: ErrorOut,
            **ERRORS,
        },
    )
    def get(self, request):
        patient = request.user.patient
        code = shareable_code(patient=patient, code=code_for_patient(patient))
        if code is None:
            raise NotFound("Sharing is paused at the moment.")
        return qr_png_response(code)

    def perform_content_negotiation(self, request, force=False):
        # The answer is an image whatever the client says it accepts (an <img> asks for image/*); errors are JSON.
        return super().perform_content_negotiation(request, force=True)
