from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from auditlog.registry import auditlog
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "%(value)s is not an IANA time zone name (e.g. Europe/Berlin).",
            params={"value": value},
        ) from None


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Region(models.Model):
    # A slug: it goes into page addresses, download names and calendar invites.
    code = models.SlugField(
        max_length=16,
        unique=True,
        help_text="Short code, e.g. EMEA: letters, digits, hyphens and underscores.",
    )
    name = models.CharField(max_length=100)
    timezone = models.CharField(
        max_length=64,
        validators=[validate_timezone],
        help_text="IANA time zone of the weekly review, e.g. Europe/Berlin.",
    )
    review_weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    review_time = models.TimeField(help_text="Local start time of the weekly review (HH:MM).")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(review_weekday__gte=0, review_weekday__lte=6),
                name="region_review_weekday_0_to_6",
            ),
            models.CheckConstraint(condition=~Q(code=""), name="region_code_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Segment(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(code=""), name="segment_code_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CSM = "csm", "Customer success manager"
    MANAGER = "manager", "Manager"
    REVIEWER = "reviewer", "Reviewer"
    ADMIN = "admin", "CS operations admin"


class Department(models.TextChoices):
    PROFESSIONAL_SERVICES = "professional_services", "Professional Services"
    PRODUCT = "product", "Product"
    SUPPORT = "support", "Support"
    SALES = "sales", "Sales"
    FINANCE = "finance", "Finance"


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CSM)
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    manager = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="team",
        limit_choices_to={"role": Role.MANAGER},
        help_text="The manager who approves this person's escalations.",
    )
    department = models.CharField(
        max_length=32,
        choices=Department.choices,
        blank=True,
        help_text="For reviewers: the function they represent in the weekly review.",
    )
    weekly_digest = models.BooleanField(
        "Weekly digest instead of per-event email",
        default=False,
        db_default=False,
        help_text="Monday 07:00 in the person's region: open records, tasks due and "
        "accounts that turned red, instead of the daily overdue-task email and the "
        "emails of matched risk rules (the digest lists those matches).",
    )
    # Who this person is at the single sign-on provider: its issuer and its
    # subject (the sub claim), stored at their first sign-in through it (empty
    # until then). Later sign-ins find them by these, never again by address.
    oidc_issuer = models.CharField(
        "single sign-on issuer",
        max_length=255,
        blank=True,
        default="",
        db_default="",
        editable=False,
    )
    oidc_subject = models.CharField(
        "single sign-on subject",
        max_length=255,
        blank=True,
        default="",
        db_default="",
        editable=False,
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=[choice.value for choice in Role]),
                name="user_role_valid",
            ),
            models.CheckConstraint(
                condition=~Q(manager=models.F("id")), name="user_not_own_manager"
            ),
            # One provider identity is one person.
            models.UniqueConstraint(
                fields=["oidc_issuer", "oidc_subject"],
                condition=~Q(oidc_subject=""),
                name="user_oidc_identity_unique",
            ),
            models.CheckConstraint(
                condition=Q(oidc_issuer="", oidc_subject="")
                | (~Q(oidc_issuer="") & ~Q(oidc_subject="")),
                name="user_oidc_identity_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def clean(self) -> None:
        super().clean()
        if self.manager_id is not None:
            if self.pk is not None and self.manager_id == self.pk:
                raise ValidationError({"manager": "A person cannot be their own manager."})
            if self.manager.role != Role.MANAGER:
                raise ValidationError({"manager": "The manager must have the manager role."})

    @property
    def is_csm(self) -> bool:
        return self.role == Role.CSM

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @property
    def is_reviewer(self) -> bool:
        return self.role == Role.REVIEWER

    @property
    def is_cs_admin(self) -> bool:
        # Django superusers can always act as CS operations admins.
        return self.role == Role.ADMIN or self.is_superuser


# Who may own a customer account.
ACCOUNT_OWNER_ROLES = (Role.CSM, Role.MANAGER)


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CHURNED = "churned", "Churned"


class HealthBand(models.TextChoices):
    GREEN = "green", "Green"
    YELLOW = "yellow", "Yellow"
    RED = "red", "Red"
    UNKNOWN = "unknown", "Unknown"


class Account(models.Model):
    external_id = models.CharField(
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text="Identifier in the CRM, e.g. a Salesforce account id.",
    )
    name = models.CharField(max_length=200)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="accounts")
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="accounts")
    arr = models.DecimalField(
        "ARR",
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Annual recurring revenue.",
    )
    renewal_date = models.DateField()
    csm = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="accounts",
        limit_choices_to={"role__in": ACCOUNT_OWNER_ROLES},
        verbose_name="CSM",
    )
    # Set by closing a risk record as churned; cleared when an admin reactivates
    # the account (accounts.services). A churned account takes no new record.
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    churned_on = models.DateField(null=True, blank=True)
    # The newest health score (health.scoring keeps these equal to it).
    health_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    health_band = models.CharField(
        max_length=8,
        choices=HealthBand.choices,
        blank=True,
        default="",
        db_default="",
        editable=False,
    )
    health_as_of = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(arr__gte=0), name="account_arr_not_negative"),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in AccountStatus]),
                name="account_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status=AccountStatus.ACTIVE, churned_on__isnull=True)
                | Q(status=AccountStatus.CHURNED, churned_on__isnull=False),
                name="account_churned_on_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(external_id__isnull=True) | ~Q(external_id=""),
                name="account_external_id_null_or_not_blank",
            ),
        ]
        indexes = [
            models.Index(fields=["renewal_date"], name="account_renewal_idx"),
            models.Index(fields=["name"], name="account_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_churned(self) -> bool:
        return self.status == AccountStatus.CHURNED

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The calendar day ``moment`` falls on in the account's region (the
        site's time zone if the region's is unknown). Loads the region."""
        try:
            return moment.astimezone(zoneinfo.ZoneInfo(self.region.timezone)).date()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return timezone.localdate(moment)

    def clean(self) -> None:
        super().clean()
        if self.external_id == "":
            self.external_id = None
        if self.csm_id is not None and self.csm.role not in ACCOUNT_OWNER_ROLES:
            raise ValidationError({"csm": "The account owner must be a CSM or a manager."})


class RenewalOutcome(models.TextChoices):
    RENEWED = "renewed", "Renewed"
    DOWNSELL = "downsell", "Downsell"
    CHURNED = "churned", "Churned"


class RenewalSource(models.TextChoices):
    API = "api", "API"
    CSV = "csv", "CSV file"
    DEMO = "demo", "Demo data"


class Renewal(models.Model):
    """What happened when an account's contract came up for renewal: the
    outcome and the ARR before and after. The history every learning report
    measures against (reports: health calibration, program effectiveness,
    flag coverage; rules: backtests). Written in bulk only, through the
    renewal importer (accounts.imports); a churned renewal marks its account
    churned."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="renewals")
    renewal_date = models.DateField()
    outcome = models.CharField(max_length=8, choices=RenewalOutcome.choices)
    arr_before = models.DecimalField(
        "ARR before", max_digits=14, decimal_places=2, help_text="ARR of the contract ending."
    )
    arr_after = models.DecimalField(
        "ARR after",
        max_digits=14,
        decimal_places=2,
        help_text="ARR of the contract that follows: 0 when the account churned.",
    )
    source = models.CharField(max_length=8, choices=RenewalSource.choices)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-renewal_date", "account_id"]
        constraints = [
            # Also the index of an account's renewals by day.
            models.UniqueConstraint(
                fields=["account", "renewal_date"], name="renewal_one_per_account_day"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=[choice.value for choice in RenewalOutcome]),
                name="renewal_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(arr_before__gte=0, arr_after__gte=0), name="renewal_arr_not_negative"
            ),
            # The outcome and the figures agree: a churn leaves nothing, a
            # downsell less than before, a renewal at least as much.
            models.CheckConstraint(
                condition=Q(outcome=RenewalOutcome.CHURNED, arr_after=0)
                | Q(outcome=RenewalOutcome.DOWNSELL, arr_after__lt=models.F("arr_before"))
                | Q(outcome=RenewalOutcome.RENEWED, arr_after__gte=models.F("arr_before")),
                name="renewal_outcome_matches_arr",
            ),
        ]
        indexes = [
            models.Index(fields=["renewal_date", "outcome"], name="renewal_date_outcome_idx")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.renewal_date}: {self.outcome}"


# The audit trail of admin data: who changed what, when, old → new, whichever
# way the change came in (the API, the Django admin, a service).
# Own columns only: reverse relations (a person's risk records, tokens…) are
# not changes of the person. Never the password.
auditlog.register(
    User,
    include_fields=[
        "username",
        "email",
        "first_name",
        "last_name",
        "role",
        "region",
        "manager",
        "department",
        "is_active",
        "is_staff",
        "is_superuser",
    ],
)
auditlog.register(
    Region, include_fields=["code", "name", "timezone", "review_weekday", "review_time"]
)
auditlog.register(Segment, include_fields=["code", "name"])
auditlog.register(
    Account,
    include_fields=[
        "external_id",
        "name",
        "region",
        "segment",
        "arr",
        "renewal_date",
        "csm",
        "status",
        "churned_on",
    ],
)
