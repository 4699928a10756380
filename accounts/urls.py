from __future__ import annotations

from django.urls import path

from . import views

# "accounts" would read as user accounts; these are customer accounts.
app_name = "customer_accounts"

urlpatterns = [
    path("", views.account_list, name="list"),
    path("<int:pk>/", views.account_detail, name="detail"),
]
