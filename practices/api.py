from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .brand_images import picture_url
from .selectors import branding, current_practice, practice_by_invite_code, practice_path, practice_url
from .throttles import CodeLookupThrottle


class BrandingOut(serializers.Serializer):
    name = serializers.CharField()
    short_name = serializers.CharField(
        help_text="For the home screen: the owner's short name or the name's first words."
    )
    logo_url = serializers.CharField(allow_null=True, help_text="The square logo, on the practice's host.")
    primary_color = serializers.CharField(help_text="#rrggbb: buttons and headers.")
    accent_color = serializers.CharField(help_text="#rrggbb: highlights.")
    primary_text_color = serializers.CharField(
        help_text="#ffffff or #111111: the text colour that reads on the primary colour (WCAG AA)."
    )
    accent_text_color = serializers.CharField(help_text="#ffffff or #111111: the text colour on the accent colour.")
    icon_url = serializers.CharField(help_text="A 512 × 512 PNG icon drawn from the logo (or the initials).")


class PracticeOut(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    api_base_url = serializers.CharField()
    web_url = serializers.CharField()
    time_zone = serializers.CharField()
    terms_url = serializers.CharField(help_text="The program terms patients accept when they join (a web page).")
    privacy_url = serializers.CharField(help_text="The practice's privacy notice (a web page).")
    branding = BrandingOut()


def practice_out(practice) -> dict:
    return PracticeOut(
        {
            "name": practice.name,
            "slug": practice.slug,
            "api_base_url": practice_url(practice, "/api/v1/"),
            "web_url": practice_url(practice, "/"),
            "time_zone": practice.time_zone,
            "terms_url": practice_url(practice, practice_path("practices:terms")),
            "privacy_url": practice_url(practice, practice_path("practices:privacy")),
            "branding": {
                **branding(practice, absolute=True),
                "icon_url": picture_url(practice, "icon-512", absolute=True),
            },
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
        return Response(practice_out(current_practice()))


class ApiRoot(APIView):
    authentication_classes: list = []

    @extend_schema(
        responses={200: inline_serializer("ApiRoot", {"practice": PracticeOut(), "links": serializers.DictField()})}
    )
    def get(self, request):
        return Response(
            {
                "practice": practice_out(current_practice()),
                "links": {
                    "schema": request.build_absolute_uri("/api/schema/"),
                    "docs": request.build_absolute_uri("/api/docs/"),
                },
            }
        )
