"""Configuration comes from the environment, strictly parsed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]
REAL_SECRET = "x7!kQ2#vLp9@Zr4$Tm8^Wn3&Yb6*Hc1(Gd5)Fs0_Je2+Ua7=Ox9-Ri4~Pl8%Ek3"


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("On", True), ("0", False)])
def test_booleans_accept_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", default=not expected) is expected


def test_a_misspelt_boolean_stops_start_up(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG='ture' is not a boolean"):
        env_bool("SOME_FLAG", default=False)


def test_integers_and_lists_are_parsed(monkeypatch):
    monkeypatch.setenv("LEAD", "12")
    monkeypatch.setenv("HOSTS", "a.example.com, b.example.com,")
    assert env_int("LEAD", 24, minimum=1) == 12
    assert env_list("HOSTS", []) == ["a.example.com", "b.example.com"]
    monkeypatch.setenv("LEAD", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("LEAD", 24, minimum=1)
    monkeypatch.setenv("LEAD", "soon")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("LEAD", 24)


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_ALLOWED_HOSTS": "risk.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/redaccount",
}


def test_production_refuses_to_start_without_a_secret():
    result = _manage("check", **PRODUCTION)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_the_deploy_check():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", DJANGO_SECRET_KEY=REAL_SECRET, **PRODUCTION
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_misspelt_debug_flag_stops_production_start_up():
    result = _manage(
        "check", DJANGO_SECRET_KEY=REAL_SECRET, DJANGO_DEBUG="yes please", **PRODUCTION
    )
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr


def test_production_refuses_to_create_demo_data():
    result = _manage("seed_demo", DJANGO_SECRET_KEY=REAL_SECRET, **PRODUCTION)
    assert result.returncode != 0
    assert "DEMO_DATA_ALLOWED is False" in result.stderr
