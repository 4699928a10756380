"""Sign-in, sign-out and password change, mounted at the site's root."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from . import oidc, views
from .forms import ThrottledAuthenticationForm

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=ThrottledAuthenticationForm,
            redirect_authenticated_user=True,
            # A function, called as the page renders: the button's label, or
            # nothing while single sign-on is off.
            extra_context={"sso_provider_name": oidc.sso_provider_name},
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("profile/", views.profile, name="profile"),
]
