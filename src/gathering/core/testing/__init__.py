"""Test helpers shared by the apps' test suites (loaded as pytest plugins by the root conftest)."""
