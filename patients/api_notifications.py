"""Patient API for notifications: the inbox, marking read, and web-push subscriptions."""

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from practices.pagination import PageNumberPagination

from . import notifications, push
from .access import patient_of
from .api_permissions import IsPatient
from .models import Notification, PushSubscription

AUTHENTICATION = [XSessionTokenAuthentication, SessionAuthentication]
TAG = "notifications"


class NotificationOut(serializers.ModelSerializer):
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "title", "body", "url", "created_at", "read_at", "is_read"]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_is_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


@extend_schema(tags=[TAG])
class NotificationList(ListAPIView):
    """The signed-in patient's notifications, newest first."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsPatient]
    pagination_class = PageNumberPagination
    serializer_class = NotificationOut

    def get_queryset(self):
        return notifications.patient_notifications(patient=patient_of(self.request.user))


class MarkReadIn(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=1000,
        help_text="Notification ids; leave out to mark every notification read. Ids of others are ignored.",
    )


class MarkReadOut(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications changed from unread to read.")


class MarkRead(APIView):
    """Mark notifications read: the given ids, or all of them when no ids are sent."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsPatient]

    @extend_schema(tags=[TAG], request=MarkReadIn, responses={200: MarkReadOut})
    def post(self, request):
        data = MarkReadIn(data=request.data)
        data.is_valid(raise_exception=True)
        marked = notifications.mark_read(
            patient=patient_of(request.user), notification_ids=data.validated_data.get("ids")
        )
        return Response(MarkReadOut({"marked": marked}).data)


class PushKeys(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)


class PushSubscriptionIn(serializers.Serializer):
    endpoint = serializers.CharField(max_length=500)
    keys = PushKeys()


class PushSubscriptionOut(serializers.ModelSerializer):
    class Meta:
        model = PushSubscription
        fields = ["id", "endpoint", "created_at"]


class PushUnsubscribeIn(serializers.Serializer):
    endpoint = serializers.CharField(max_length=500)


class PushSubscriptions(APIView):
    """This browser's web-push subscription: register it (the shape of PushSubscription.toJSON()) or remove it."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsPatient]

    @extend_schema(tags=[TAG], request=PushSubscriptionIn, responses={201: PushSubscriptionOut})
    def post(self, request):
        data = PushSubscriptionIn(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = notifications.subscribe_push(
            patient=patient_of(request.user),
            endpoint=data.validated_data["endpoint"],
            p256dh=data.validated_data["keys"]["p256dh"],
            auth=data.validated_data["keys"]["auth"],
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(PushSubscriptionOut(subscription).data, status=status.HTTP_201_CREATED)

    # OpenAPI 3.0 gives DELETE no request body, so the schema documents the endpoint as a query
    # parameter; browsers send {"endpoint": ...} as the body, which is read first.
    @extend_schema(
        tags=[TAG],
        parameters=[OpenApiParameter("endpoint", str, required=True, description="The subscription's endpoint.")],
        responses={204: None},
        description="Remove this browser's subscription. The endpoint may also be sent as a JSON body.",
    )
    def delete(self, request):
        source = request.data if "endpoint" in request.data else request.query_params
        data = PushUnsubscribeIn(data=source)
        data.is_valid(raise_exception=True)
        endpoint = data.validated_data["endpoint"]
        if not notifications.unsubscribe_push(patient=patient_of(request.user), endpoint=endpoint):
            raise NotFound("No push subscription with this endpoint.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PushPublicKey(APIView):
    """The VAPID public key a browser needs to subscribe (null when web push is not configured)."""

    authentication_classes = AUTHENTICATION
    # A public key by definition: the app may fetch it before the patient signs in.
    permission_classes = [AllowAny]

    @extend_schema(
        tags=[TAG],
        responses={200: inline_serializer("PushPublicKey", {"public_key": serializers.CharField(allow_null=True)})},
    )
    def get(self, request):
        return Response({"public_key": settings.VAPID_PUBLIC_KEY if push.is_configured() else None})
