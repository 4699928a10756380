"""What the demo data says: regions, people, company names and the words of
risk records. Kept apart from the generator so the story can be edited without
touching the logic."""

from __future__ import annotations

import datetime as dt

from accounts.models import Department, Weekday
from risks.models import RiskStatus, Tier

# --- regions and people ----------------------------------------------------------

REGIONS = [
    # code, name, IANA time zone, weekday of the cross-functional review, local time
    ("NA", "North America", "America/New_York", Weekday.TUESDAY, dt.time(11, 0)),
    ("EMEA", "Europe, Middle East & Africa", "Europe/Berlin", Weekday.WEDNESDAY, dt.time(14, 0)),
    ("APAC", "Asia Pacific", "Asia/Singapore", Weekday.THURSDAY, dt.time(10, 0)),
    ("LATAM", "Latin America", "America/Sao_Paulo", Weekday.TUESDAY, dt.time(15, 30)),
]

# As seeded by accounts/migrations/0002_seed_segments.py.
SEGMENTS = [
    ("strategic", "Strategic"),
    ("enterprise", "Enterprise"),
    ("mid-market", "Mid-Market"),
    ("smb", "SMB"),
]
# Share of accounts per segment, and the plausible ARR range of each.
SEGMENT_WEIGHTS = {"strategic": 10, "enterprise": 25, "mid-market": 35, "smb": 30}
SEGMENT_ARR = {
    "strategic": (250_000, 1_500_000),
    "enterprise": (80_000, 400_000),
    "mid-market": (20_000, 120_000),
    "smb": (3_000, 25_000),
}


# region → [(manager, [their CSMs])], and the reviewers of each department.
# The first manager and CSM of EMEA are the demo logins "manager" and "csm".
TEAMS = {
    "NA": [
        (("Dana", "Whitfield"), [("Jordan", "Price"), ("Emily", "Carter"), ("Tyler", "Brooks")]),
        (
            ("Marcus", "Bell"),
            [("Samantha", "Reed"), ("Kevin", "Nguyen"), ("Olivia", "Hart"), ("Brandon", "Ortiz")],
        ),
    ],
    "EMEA": [
        (
            ("Maria", "Schneider", "manager"),
            [("Carl", "Jensen", "csm"), ("Sophie", "Dubois"), ("Lukas", "Weber")],
        ),
        (
            ("Henrik", "Larsen"),
            [
                ("Anna", "Kowalska"),
                ("James", "Whitaker"),
                ("Ingrid", "Nilsson"),
                ("Giulia", "Romano"),
            ],
        ),
    ],
    "APAC": [
        (
            ("Priya", "Raman"),
            [("Wei Ling", "Tan"), ("Kenji", "Sato"), ("Aarav", "Mehta"), ("Chloe", "Wong")],
        ),
    ],
    "LATAM": [
        (
            ("Camila", "Rocha"),
            [("Mateo", "Fernández"), ("Beatriz", "Almeida"), ("Diego", "Herrera")],
        ),
    ],
}
REVIEWERS = {
    "NA": [("Grace", "Sullivan"), ("Ethan", "Walsh"), ("Hannah", "Kim"),
           ("Ryan", "Foster"), ("Laura", "Bennett")],
    "EMEA": [("Pieter", "de Vries"), ("Rita", "Moreau", "reviewer"), ("Elena", "García"),
             ("Oliver", "Hughes"), ("Katarina", "Novak")],
    "APAC": [("Daniel", "Lim"), ("Mei", "Chen"), ("Rahul", "Iyer"),
             ("Hiroshi", "Tanaka"), ("Siti", "Rahman")],
    "LATAM": [("Lucas", "Pereira"), ("Valentina", "Cruz"), ("Gabriel", "Souza"),
              ("Isabela", "Martins"), ("Rafael", "Gómez")],
}  # fmt: skip
# Reviewers are listed in this order of departments in every region.
REVIEW_DEPARTMENTS = [
    Department.PROFESSIONAL_SERVICES,
    Department.PRODUCT,
    Department.SUPPORT,
    Department.SALES,
    Department.FINANCE,
]


# --- accounts --------------------------------------------------------------------

NAME_PREFIXES = [
    "Northwind", "Bluepeak", "Silverline", "Redwood", "Ironbridge", "Brightwater", "Stonegate",
    "Clearview", "Highland", "Summit", "Evergreen", "Harborview", "Granite", "Lakeshore",
    "Copperfield", "Falcon", "Meridian", "Oakridge", "Pinecrest", "Riverbend", "Skyline",
    "Sunrise", "Westbrook", "Aurora", "Crescent", "Keystone", "Lighthouse", "Maplewood", "Nova",
    "Orion", "Pioneer", "Quantum", "Starling", "Tidewater", "Vantage", "Willowby",
]  # fmt: skip
NAME_SUFFIXES = [
    "Logistics", "Analytics", "Health", "Foods", "Energy", "Capital", "Manufacturing", "Retail",
    "Media", "Systems", "Labs", "Pharma", "Insurance", "Freight", "Telecom", "Robotics",
    "Hospitality", "Learning", "Construction", "Software", "Biotech", "Motors", "Apparel",
    "Security", "Travel",
]  # fmt: skip


# --- what the risk records say ---------------------------------------------------

CAUSES = [
    "low-usage", "lost-champion", "incomplete-onboarding", "value-not-realised",
    "organisational-change", "missing-capability", "defects", "performance-reliability",
    "integration-gap", "usability",
]  # fmt: skip
# How often each cause is the primary one.
CAUSE_WEIGHTS = [16, 10, 12, 10, 8, 12, 10, 7, 9, 6]
# (saved, churned, withdrawn) weights. Adoption problems are the ones a CS team
# can usually fix; a missing feature or a reorganisation mostly is not.
OUTCOME_WEIGHTS = {
    "low-usage": (72, 18, 10),
    "lost-champion": (50, 40, 10),
    "incomplete-onboarding": (75, 15, 10),
    "value-not-realised": (55, 35, 10),
    "organisational-change": (22, 68, 10),
    "missing-capability": (22, 68, 10),
    "defects": (60, 30, 10),
    "performance-reliability": (55, 35, 10),
    "integration-gap": (40, 50, 10),
    "usability": (50, 40, 10),
}
SUMMARIES = {
    "low-usage": [
        "Weekly active users fell by 45% over the last quarter; only the pilot team still logs in.",
        "Licence utilisation is at 30% and falling; procurement asked why they pay for every seat.",
    ],
    "lost-champion": [
        "Our champion, the Head of Operations, left; the new lead has not engaged with us.",
        "The executive sponsor moved to another business unit and nobody owns the relationship.",
    ],
    "incomplete-onboarding": [
        "Implementation stalled at data migration; the legacy tool still runs in parallel.",
        "Onboarding paused when their project lead went on leave; no production use yet.",
    ],
    "value-not-realised": [
        "They use the product daily but cannot show the savings promised in the business case.",
        "The CFO wants ROI evidence before the renewal and the team has none to show.",
    ],
    "organisational-change": [
        "Acquired by a group that standardises on another vendor; every contract is under review.",
        "A company-wide 20% budget cut puts all non-core software up for cancellation.",
    ],
    "missing-capability": [
        "They need multi-entity reporting, which we lack; a competitor demoed it last month.",
        "Blocked by the lack of an approval workflow for regulated documents.",
    ],
    "defects": [
        "Twelve open tickets about export errors; the admin team no longer trusts the data.",
        "A recurring sync bug corrupts records every week and needs manual clean-up.",
    ],
    "performance-reliability": [
        "Three outages in six weeks, two during their month-end close; SLA credits requested.",
        "Dashboards take over 30 seconds to load for their largest business unit.",
    ],
    "integration-gap": [
        "Our CRM connector does not sync the custom objects their sales process depends on.",
        "No SSO with their identity provider; IT security flagged it as a renewal blocker.",
    ],
    "usability": [
        "Field teams find the mobile app too slow and have gone back to spreadsheets.",
        "New users need a full day of training; their help desk is overwhelmed.",
    ],
}
NEXT_STEPS = {
    "low-usage": "Usage review with the admin; relaunch training for the two largest teams.",
    "lost-champion": "Map the new stakeholders; ask our exec sponsor to meet their new lead.",
    "incomplete-onboarding": "Restart onboarding with a Professional Services plan and dates.",
    "value-not-realised": "Build a value report with their KPIs; present it to the CFO.",
    "organisational-change": "Meet the new owner's IT lead; prepare a consolidation offer.",
    "missing-capability": "Share the roadmap under NDA; agree a workaround with Product.",
    "defects": "Weekly defect review with Support; named engineer on their tickets.",
    "performance-reliability": "Share the incident reports and the capacity plan; agree SLAs.",
    "integration-gap": "Scope the integration with Professional Services; offer a partner.",
    "usability": "UX session with their field leads; roll out the simplified layout.",
}
NOTES = [
    "Call with the admin: usage dashboards shared, they will nominate team leads.",
    "Sent the recap and the plan; waiting for a date with their director.",
    "Exec sponsor call held; they want to see progress before the renewal talk.",
    "Support escalated their top tickets; two fixes ship in the next release.",
    "Training session held for 25 users; attendance better than expected.",
    "Procurement confirmed the renewal is under review, no decision yet.",
    "They agreed to a success plan with monthly check-ins.",
    "Quiet for two weeks; chasing through the account executive.",
    "QBR moved to next month at their request.",
    "Product joined the call and walked them through the roadmap.",
]
ESCALATION_REASONS = {
    Tier.MANAGER: [
        "No response from the customer in three weeks; I need a manager-level contact.",
        "They asked for a commercial concession I cannot approve.",
        "Renewal is close and the sponsor is not engaging; need help to reach their VP.",
    ],
    Tier.REVIEW: [
        "Needs Product and Professional Services together; beyond what our team can fix.",
        "Large ARR at risk and a competitor in the deal; needs the cross-functional review.",
        "Requires a roadmap commitment and a finance decision on credits.",
    ],
}
APPROVAL_NOTES = ["", "Agreed; I'll join the next call.", "Approved. Let's bring a plan on Friday."]
REJECTION_NOTES = [
    "Not yet: try the admin training first and come back in two weeks.",
    "We have not reached their sponsor yet; do that before escalating.",
]
DEESCALATION_NOTES = [
    "Fix shipped and confirmed by the customer; the team can carry it from here.",
    "Sponsor re-engaged; back to the CSM's plan with a check-in in a month.",
]
OUTCOME_NOTES = {
    RiskStatus.SAVED: [
        "Renewed for another year after the relaunch; usage back above target.",
        "Signed the renewal; the success plan goes on as the account plan.",
        "Renewed on a two-year term with a named CSM and quarterly reviews.",
    ],
    "downsell": [
        "Renewed with fewer seats: they cut the teams that never adopted.",
        "Kept the core product but dropped the analytics add-on.",
    ],
    RiskStatus.CHURNED: [
        "Did not renew; moved to a competitor that had the capability.",
        "Cancelled at renewal; the new owner consolidated on their group's tool.",
        "Lost: the budget was cut and the project ended.",
    ],
    RiskStatus.WITHDRAWN: [
        "Raised in error: the usage drop was a reporting glitch on our side.",
        "No longer a risk: the customer confirmed the renewal before the review.",
    ],
}
