from __future__ import annotations

from django.urls import path

from .views import accounts as views

# The customer accounts pages, mounted at /accounts/. The namespace says
# "customer": "accounts" would read as user accounts.
app_name = "customer_accounts"

urlpatterns = [
    path("", views.account_list, name="list"),
    path("<int:pk>/", views.account_detail, name="detail"),
]
