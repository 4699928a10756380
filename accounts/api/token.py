"""POST /api/v1/auth/token/: trade a username and password for an API token,
with failed attempts throttled like the web sign-in (accounts/throttle.py)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import throttle
from core.schema import FIELD_ERRORS_SCHEMA, ErrorDetailSerializer

from .serializers import TokenRequestSerializer, TokenSerializer

INVALID_CREDENTIALS = "Unable to sign in with those credentials."


class ObtainTokenView(APIView):
    # No authentication at all: the credentials are in the body, so no session
    # is needed and none is trusted, which is also why CSRF does not apply.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Get an API token",
        description=(
            "Returns the user's token, creating it on first use. Send it as "
            "`Authorization: Token <token>`. After `LOGIN_FAILURE_LIMIT` (default 5) "
            "failed attempts for one username from one address within "
            "`LOGIN_LOCKOUT_MINUTES` (default 15), that pair is locked for "
            "`LOGIN_LOCKOUT_MINUTES`: 429 with a Retry-After header."
        ),
        auth=[],
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(
                response=FIELD_ERRORS_SCHEMA,
                description="Missing fields, wrong credentials or an inactive account.",
                examples=[
                    OpenApiExample(
                        "Wrong credentials",
                        value={"non_field_errors": [INVALID_CREDENTIALS]},
                        status_codes=["400"],
                    )
                ],
            ),
            429: OpenApiResponse(
                response=ErrorDetailSerializer,
                description=(
                    "Too many failed sign-ins for this username from this address. "
                    "The Retry-After header gives the seconds left."
                ),
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        ip = throttle.client_ip(request._request)
        locked = throttle.attempt(username, ip)
        if locked is not None:
            # Counted before the check: past the limit the password is not checked.
            return self._locked(locked)
        # The default backend refuses inactive users here as well.
        user = authenticate(
            request._request, username=username, password=serializer.validated_data["password"]
        )
        if user is None:
            locked = throttle.record_failure(username, ip)
            if locked is not None:
                return self._locked(locked)
            return Response(
                {"non_field_errors": [INVALID_CREDENTIALS]}, status=status.HTTP_400_BAD_REQUEST
            )
        throttle.reset(username, ip)
        token, _ = Token.objects.get_or_create(user=user)
        return Response(TokenSerializer({"token": token.key}).data)

    @staticmethod
    def _locked(locked: throttle.Lockout) -> Response:
        return Response(
            {"detail": locked.message},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(locked.seconds_left)},
        )
