"""The kit's conformance suite (hub.kit.conformance) run against every adapter in the repository."""

from __future__ import annotations

from hub.kit import ConformanceSuite
from tests import conformance_profiles as profiles


class TestAgencyConformance(ConformanceSuite):
    profile_factory = staticmethod(profiles.agency)


class TestPostEmsConformance(ConformanceSuite):
    profile_factory = staticmethod(profiles.post_ems)


class TestGovAxisConformance(ConformanceSuite):
    profile_factory = staticmethod(profiles.gov_axis)


class TestBankConformance(ConformanceSuite):
    profile_factory = staticmethod(profiles.bank)


class TestNotifyConformance(ConformanceSuite):
    profile_factory = staticmethod(profiles.notify)
