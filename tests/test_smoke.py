from __future__ import annotations

import pytest

from risks.models import RootCause


@pytest.mark.django_db
def test_ten_default_root_causes_are_seeded_five_per_category():
    assert RootCause.objects.filter(category="adoption", active=True).count() == 5
    assert RootCause.objects.filter(category="product", active=True).count() == 5
