"""``POST /api/portal-link/``: the third party's back-end asks for a consumer portal link.

The calling key is the one the link opens the portal for: a back-end can send its own staff
into the portal without the store's help. The link is what
:func:`django_webhooks.portal.links.issue` makes (valid ``hours``, 1 by default, at most
``PORTAL_LINK_MAX_HOURS``); the portal switched off or not mounted answers 404.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..conf import webhook_settings
from ..portal import links
from . import schema
from .schema import extend_schema
from .serializers import StrictSerializerMixin
from .views import ApiKeyViewMixin, calling_key


class HoursField(serializers.IntegerField):
    """A JSON integer from 1 to ``PORTAL_LINK_MAX_HOURS`` (read at each request)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        try:
            return links.checked_hours(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None


class PortalLinkRequestSerializer(StrictSerializerMixin, serializers.Serializer):
    hours = HoursField(
        required=False,
        min_value=1,
        help_text=_(
            "How long the link (and the portal session it opens) is valid: 1 (the default) "
            "to the store's PORTAL_LINK_MAX_HOURS (24 unless the store changed it)."
        ),
    )


class PortalLinkSerializer(serializers.Serializer):
    url = serializers.URLField(
        read_only=True,
        help_text=_(
            "Opens the portal for this key, without a password, until expires_at. Hand it "
            "only to whoever may manage this key's webhooks."
        ),
    )
    expires_at = serializers.DateTimeField(read_only=True)


class PortalLinkView(ApiKeyViewMixin, APIView):
    """A link into the consumer portal for the calling key."""

    @extend_schema(
        operation_id="portal_link_create",
        summary="Get a link into the consumer portal",
        description="The portal shows this key's webhooks, their health and deliveries, and "
        "lets whoever holds the link redeliver, test, change the webhooks and reveal or "
        "rotate the signing secret. Revoking the key or rotating its signing secret voids "
        "every link made before.",
        request=PortalLinkRequestSerializer,
        responses=schema.responses({200: PortalLinkSerializer}, 400, 404, 415),
    )
    def post(self, request: Request) -> Response:
        api_key = calling_key(request)
        if api_key is None:
            raise NotAuthenticated
        if not webhook_settings.PORTAL:
            raise NotFound(_("The store has switched the portal off."))
        body = PortalLinkRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token, expires_at = links.issue(api_key, body.validated_data.get("hours"))
        try:
            path = links.link_path(token)
        except links.PortalNotMounted:
            raise NotFound(_("The store has not set up the portal.")) from None
        base_url = webhook_settings.PORTAL_BASE_URL
        url = base_url + path if base_url else request.build_absolute_uri(path)
        data = PortalLinkSerializer({"url": url, "expires_at": expires_at}).data
        return Response(data, headers={"Cache-Control": "no-store"})
