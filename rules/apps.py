from __future__ import annotations

from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "rules"
    verbose_name = "Risk rules"

    def ready(self) -> None:
        # A record opened by a rule, and a rule's note on a record, name the
        # rule by id; the timeline (a layer below) asks us for its name and link.
        from risks.timeline import register_resolver

        from .selectors import rule_references

        register_resolver(rule_references)

        # The account page (a risks view) shows the rules holding for the account.
        from risks.panels import register_account_panel

        from .views import account_rules_panel

        register_account_panel(account_rules_panel)

        # The weekly digest (a risks feature) lists the week's matches: its
        # readers get no email when a rule matches.
        from risks.digest import register_digest_section

        from .digest import matches_for_digest

        register_digest_section(matches_for_digest)

        # Every scoring run is followed by an evaluation of the active rules.
        from health.signals import scores_computed

        from .receivers import evaluate_after_scoring

        scores_computed.connect(evaluate_after_scoring, dispatch_uid="rules-after-scoring")
