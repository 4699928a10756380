from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and people"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from core.imports import register

        from .imports import account_importer, renewal_importer
        from .models import User
        from .signals import revoke_tokens_on_password_change

        register(renewal_importer)
        register(account_importer)

        post_save.connect(
            revoke_tokens_on_password_change, sender=User, dispatch_uid="revoke-tokens"
        )
