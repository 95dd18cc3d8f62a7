"""Account endpoints: registration, e-mail confirmation, passwords, sign-in, token refresh and sign-out.

Thin: validate, call one service, answer. Me, patients and care teams are accounts/apis.py's.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxLengthValidator
from django.utils import translation
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenObtainSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import second_factor, services, tokens
from accounts.lockout import lockout_message, lockout_seconds
from accounts.models import Language, Role, SessionEnd, User, normalize_email_address
from accounts.serializers import (
    AcceptedSerializer,
    LogoutSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RegisterSerializer,
    VerifyEmailSerializer,
)
from tacro_topical.schema import (
    UNAUTHENTICATED,
    VALIDATION_ERROR,
    ErrorSerializer,
)


class AccountLockedOut(exceptions.Throttled):
    """429 with Retry-After, and words a person can act on, instead of a generic failure."""

    default_code = "account_locked"


def language_of(request: Request) -> Language:
    """The first of settings.LANGUAGES the request's Accept-Language (or language cookie) asks for; English."""
    asked = translation.get_language_from_request(request)
    return Language(asked) if asked in Language.values else Language.ENGLISH


# The same words whether the address is new or taken: API.md, and the reason in accounts.services.user_register.
REGISTERED = gettext_lazy(
    "Thank you. We have sent an e-mail to this address: follow the link in it to finish. "
    "If nothing arrives within a few minutes, look in your spam folder."
)
RESET_REQUESTED = gettext_lazy(
    "If an account uses this address, we have sent it an e-mail with a link for choosing a new password. "
    "The link works once, and for a limited time."
)


class AnonymousApi(APIView):
    """An endpoint for someone not signed in: no credentials are read, whatever the request carries."""

    permission_classes = (AllowAny,)
    authentication_classes = ()


class RegisterApi(AnonymousApi):
    @extend_schema(
        operation_id="auth_register",
        request=RegisterSerializer,
        responses={
            202: OpenApiResponse(
                AcceptedSerializer,
                description="The same answer for a new and a taken address. A new account gets a link confirming "
                "its address; the owner of a taken one is told someone tried, with a link to reset the password.",
            ),
            400: VALIDATION_ERROR,
        },
        summary="Register a patient or caregiver",
        description="Where confirming the address is required (production), the account signs in once the "
        "e-mailed link has been followed (auth/verify-email/).",
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.user_register(
            email=data["email"],
            password=data["password"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            role=Role(data["role"]),
            birth_date=data.get("birth_date"),
            timezone_name=data.get("timezone"),
            condition=data.get("condition"),
            language=Language(data.get("language") or language_of(request)),
        )
        return Response({"detail": REGISTERED}, status=status.HTTP_202_ACCEPTED)


class VerifyEmailApi(AnonymousApi):
    @extend_schema(
        operation_id="auth_verify_email",
        request=VerifyEmailSerializer,
        responses={
            204: OpenApiResponse(description="The address is confirmed (following the link again changes nothing)."),
            400: VALIDATION_ERROR,
        },
        summary="Confirm an e-mail address with the token from the e-mailed link",
    )
    def post(self, request: Request) -> Response:
        serializer = VerifyEmailSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_email_verify(token=serializer.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(AnonymousApi):
    @extend_schema(
        operation_id="auth_password_reset",
        request=PasswordResetSerializer,
        responses={
            202: OpenApiResponse(AcceptedSerializer, description="The same answer whatever the address."),
            400: VALIDATION_ERROR,
        },
        summary="Ask for an e-mailed link to choose a new password",
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_password_reset_request(email=serializer.validated_data["email"])
        return Response({"detail": RESET_REQUESTED}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(AnonymousApi):
    @extend_schema(
        operation_id="auth_password_reset_confirm",
        request=PasswordResetConfirmSerializer,
        responses={
            204: OpenApiResponse(description="The password is changed; every token issued before stops working."),
            400: VALIDATION_ERROR,
        },
        summary="Choose a new password with the uid and token from the e-mailed link",
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_password_reset_confirm(**serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    @extend_schema(
        operation_id="auth_password_change",
        request=PasswordChangeSerializer,
        responses={
            204: OpenApiResponse(
                description="The password is changed. Every other token of the account stops working; the "
                "tokens of the session this request came from keep working."
            ),
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
        },
        summary="Change the signed-in user's password",
        description="A wrong `old_password` counts toward the account's sign-in lockout, like a wrong sign-in.",
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user: User = request.user  # type: ignore[assignment]
        try:
            services.user_password_change(
                user=user,
                old_password=serializer.validated_data["old_password"],
                new_password=serializer.validated_data["new_password"],
                keep_session_id=tokens.session_id_of(request.auth),
                request=request,
            )
        except DjangoValidationError:
            # django-axes flags the request when this wrong password hit, or met, the lockout.
            if getattr(request, "axes_locked_out", False):
                raise AccountLockedOut(wait=lockout_seconds(request), detail=lockout_message(request)) from None
            raise
        if isinstance(request.successful_authenticator, SessionAuthentication):
            # Django ends every session cookie signed with the old password; the caller's stays signed in.
            update_session_auth_hash(request._request, user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailTokenObtainPairSerializer(TokenObtainPairSerializer):
    """The e-mail address and password of an account, and a code for an account with a second factor."""

    # simplejwt's pair serializer; the e-mail is normalised the way accounts store it.
    # One refusal for a wrong password and an unconfirmed address alike: which it was would tell whether
    # an address is registered here (accounts.tokens.SIGN_IN_REFUSED).
    default_error_messages = {"no_active_account": tokens.SIGN_IN_REFUSED}
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=32,
        help_text="Dermatologists and clinic staff: the 6-digit code from the authenticator app, "
        "or one of the recovery codes (each works once).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No account has a longer address (User.email), and django-axes stores what was tried in a
        # varchar(255): a longer one was a 500 (review of #22).
        longest = User._meta.get_field("email").max_length
        address = cast(serializers.CharField, self.fields[self.username_field])
        address.max_length = longest  # in the schema
        address.validators.append(MaxLengthValidator(longest))

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        attrs[self.username_field] = normalize_email_address(str(attrs[self.username_field]))
        code = attrs.pop("otp", "")
        # simplejwt's pair serializer, in two steps: the password (TokenObtainSerializer sets self.user
        # or raises), then the second factor, and only then the tokens, so that a wrong code starts
        # no session.
        TokenObtainSerializer.validate(self, attrs)
        if second_factor.asks_for_second_factor(self.user):
            self.check_second_factor(code, email=attrs[self.username_field])
        # self.user is set: TokenObtainSerializer.validate raised otherwise.
        refresh = tokens.SessionRefreshToken.for_user(cast(User, self.user))
        # simplejwt does not announce the sign-in; django-axes resets the failure count on this
        # signal, and Django's own receiver records last_login (so SIMPLE_JWT leaves that off).
        user_logged_in.send(sender=type(self.user), request=self.context["request"], user=self.user)
        return {"refresh": str(refresh), "access": str(refresh.access_token)}

    def check_second_factor(self, code: str, *, email: str) -> None:
        """401 unless `code` is accepted (accounts/second_factor.py); a wrong one counts toward the lockout."""
        if not code.strip():
            # Not counted: a client learns here that this account needs a code, then asks the person for it.
            raise exceptions.AuthenticationFailed(
                "This account signs in with a second factor: send `otp`, the 6-digit code from your "
                "authenticator app, or one of your recovery codes.",
                code="otp_required",
            )
        if second_factor.code_accepted(self.user, code) is None:
            # As Django's authenticate() announces a wrong password, so django-axes counts this one too.
            user_login_failed.send(
                sender=__name__, credentials={self.username_field: email}, request=self.context["request"]
            )
            raise exceptions.AuthenticationFailed(
                "The code in `otp` was not accepted: send the 6-digit code your authenticator app shows "
                "now (each code works once), or one of your recovery codes.",
                code="otp_invalid",
            )


class TokenObtainApi(TokenObtainPairView):
    serializer_class = EmailTokenObtainPairSerializer

    @extend_schema(
        operation_id="auth_token",
        responses={
            200: inline_serializer(
                "TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()}
            ),
            400: VALIDATION_ERROR,
            401: OpenApiResponse(
                ErrorSerializer,
                description="Wrong e-mail or password; or `otp` missing or wrong for an account with a second factor.",
            ),
            429: OpenApiResponse(
                ErrorSerializer, description="Account locked after repeated failures; see Retry-After."
            ),
        },
        summary="Sign in: get an access and a refresh token",
        description="Send the access token as `Authorization: Bearer <access>`; trade the refresh token for a "
        "new pair at auth/token/refresh/ before the access token expires.",
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except exceptions.AuthenticationFailed:
            # django-axes flags the request when this attempt hit, or met, the lockout.
            if getattr(request, "axes_locked_out", False):
                raise AccountLockedOut(wait=lockout_seconds(request), detail=lockout_message(request)) from None
            raise


class TokenRefreshApi(TokenRefreshView):
    serializer_class = tokens.SessionTokenRefreshSerializer

    @extend_schema(
        operation_id="auth_token_refresh",
        responses={
            200: inline_serializer(
                "RefreshedTokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()}
            ),
            400: VALIDATION_ERROR,
            401: OpenApiResponse(
                ErrorSerializer, description="The refresh token is invalid, expired or revoked, or its session ended."
            ),
        },
        summary="Trade a refresh token for a new pair; the old refresh token stops working",
        description="Each refresh token works once: keep the new one from the answer. Using one again ends the "
        "whole session: its newer refresh token and its access tokens stop working too. A session ends "
        "at the latest ACCOUNT_SESSION_LIFETIME (30 days) after signing in, however often it is refreshed.",
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class LogoutApi(AnonymousApi):
    # The refresh token in the body is the credential: logging out must work with an expired access token.

    def get_authenticate_header(self, request: Request) -> str:
        # Without authentication classes DRF would turn our 401 into a 403.
        return 'Bearer realm="api"'

    @extend_schema(
        operation_id="auth_logout",
        request=LogoutSerializer,
        responses={
            205: OpenApiResponse(
                description="The session of the refresh token has ended, its access tokens too; with `all`, "
                "every session of the account."
            ),
            400: VALIDATION_ERROR,
            401: OpenApiResponse(ErrorSerializer, description="The refresh token is invalid, expired or revoked."),
        },
        summary="Sign out: end the refresh token's session, or with `all` every session of the account",
    )
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            refresh = tokens.refresh_in_force(serializer.validated_data["refresh"], session_required=False)
        except TokenError as error:
            raise exceptions.AuthenticationFailed(
                "The refresh token is invalid, expired or already revoked."
            ) from error
        if serializer.validated_data["all"]:
            services.user_sessions_end(user=refresh.user, reason=SessionEnd.SIGNED_OUT_EVERYWHERE)
        elif refresh.session is not None:
            services.session_end(session_id=refresh.session.pk, reason=SessionEnd.SIGNED_OUT)
        # simplejwt's own record too, and the only one for a token from before sessions.
        refresh.token.blacklist()
        return Response(status=status.HTTP_205_RESET_CONTENT)
