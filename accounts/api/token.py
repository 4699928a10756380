"""POST /api/v1/auth/token/: trade a username and password for an API token,
with failed attempts throttled like the web sign-in (accounts/throttle.py)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import throttle
from accounts.oidc import password_sign_in_allowed, password_sign_in_hint
from core.authentication import AuditedTokenAuthentication as TokenAuthentication
from core.schema import FIELD_ERRORS_SCHEMA, ErrorDetailSerializer, errors

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
            "Issues a new token for the user, valid for `API_TOKEN_TTL_DAYS` (default 90). "
            "Send it as `Authorization: Token <token>`. Only a hash of it is stored, so "
            "it is shown once; revoke it with `auth/token/revoke/`. Changing the password "
            "revokes all of the user's tokens. After `LOGIN_FAILURE_LIMIT` (default 5) "
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
                description=(
                    "Missing fields, wrong credentials or an inactive account; while "
                    "single sign-on is on, also anyone but an administrator."
                ),
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
        # While single sign-on is on only administrators get a token this way;
        # anyone else is refused like a wrong password, so the answer never
        # tells whether the password was right.
        if user is None or not password_sign_in_allowed(user):
            locked = throttle.record_failure(username, ip)
            if locked is not None:
                return self._locked(locked)
            message = f"{INVALID_CREDENTIALS} {password_sign_in_hint()}".strip()
            return Response({"non_field_errors": [message]}, status=status.HTTP_400_BAD_REQUEST)
        throttle.reset(username, ip)
        instance, token = AuthToken.objects.create(user=user)
        return Response(TokenSerializer({"token": token, "expiry": instance.expiry}).data)

    @staticmethod
    def _locked(locked: throttle.Lockout) -> Response:
        return Response(
            {"detail": locked.message},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(locked.seconds_left)},
        )


class RevokeTokenView(APIView):
    """POST /api/v1/auth/token/revoke/: the token this request is signed with
    stops working at once."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Revoke the token of this request",
        request=None,
        responses={204: OpenApiResponse(description="Revoked."), **errors(401)},
    )
    def post(self, request: Request) -> Response:
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class RevokeAllTokensView(APIView):
    """POST /api/v1/auth/token/revoke-all/: every token of the signed-in user
    stops working (a lost laptop, a leaked script)."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Revoke all of your tokens",
        request=None,
        responses={204: OpenApiResponse(description="Revoked."), **errors(401, 403)},
    )
    def post(self, request: Request) -> Response:
        AuthToken.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
