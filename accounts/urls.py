from django.urls import path

from accounts import apis, auth_apis

urlpatterns = [
    path("auth/register/", auth_apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/verify-email/", auth_apis.VerifyEmailApi.as_view(), name="auth-verify-email"),
    path("auth/password/reset/", auth_apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm/", auth_apis.PasswordResetConfirmApi.as_view(), name="auth-password-reset-confirm"
    ),
    path("auth/password/change/", auth_apis.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("auth/token/", auth_apis.TokenObtainApi.as_view(), name="auth-token"),
    path("auth/token/refresh/", auth_apis.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/logout/", auth_apis.LogoutApi.as_view(), name="auth-logout"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("patients/", apis.PatientListApi.as_view(), name="patient-list"),
    path("patients/<uuid:patient_id>/", apis.PatientDetailApi.as_view(), name="patient-detail"),
    path("care-team/join/", apis.CareTeamJoinApi.as_view(), name="care-team-join"),
]
