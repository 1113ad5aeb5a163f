from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import branding, practice_by_invite_code, practice_url
from .throttles import CodeLookupThrottle


class BrandingOut(serializers.Serializer):
    name = serializers.CharField()
    logo_url = serializers.CharField(allow_null=True)
    primary_color = serializers.CharField()
    accent_color = serializers.CharField()


class PracticeOut(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    api_base_url = serializers.CharField()
    web_url = serializers.CharField()
    time_zone = serializers.CharField()
    branding = BrandingOut()


def practice_out(practice) -> dict:
    return PracticeOut(
        {
            "name": practice.name,
            "slug": practice.slug,
            "api_base_url": practice_url(practice, "/api/v1/"),
            "web_url": practice_url(practice, "/"),
            "time_zone": practice.time_zone,
            "branding": branding(practice, absolute=True),
        }
    ).data


class ResolvePractice(APIView):
    """Platform host: find the practice behind an invite code (what the mobile app asks first)."""

    authentication_classes: list = []
    throttle_classes = [CodeLookupThrottle]  # codes must not be found by trying them all

    @extend_schema(
        parameters=[
            OpenApiParameter("code", str, required=True, description="The practice's invite code or a referral code.")
        ],
        responses={200: PracticeOut},
    )
    def get(self, request):
        code = request.query_params.get("code", "").strip()
        if not code:
            raise ValidationError({"code": ["Enter an invite code."]})
        practice = practice_by_invite_code(code)
        if practice is None:
            raise NotFound("No practice uses that code.")
        return Response(practice_out(practice))


class CurrentPractice(APIView):
    """The practice this host serves: name, API base URL and branding."""

    authentication_classes: list = []

    @extend_schema(responses={200: PracticeOut})
    def get(self, request):
        return Response(practice_out(request.tenant))


class ApiRoot(APIView):
    authentication_classes: list = []

    @extend_schema(
        responses={200: inline_serializer("ApiRoot", {"practice": PracticeOut(), "links": serializers.DictField()})}
    )
    def get(self, request):
        return Response(
            {
                "practice": practice_out(request.tenant),
                "links": {
                    "schema": request.build_absolute_uri("/api/schema/"),
                    "docs": request.build_absolute_uri("/api/docs/"),
                },
            }
        )
