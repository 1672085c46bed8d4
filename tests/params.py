"""The tests' tiers, and parameters over the full-run combinations grouped for pytest-xdist."""

from collections.abc import Iterable
from typing import Any

import pytest

from harness.docker import base_images
from harness.options import FULL_RUNS

# Every test module is in one tier (the root Makefile runs each): what it costs decides.
TIERS = {
    "render": (
        "test_rendering",
        "test_input_validation",
        "test_ci_workflow",
        "test_template_code",
        "test_onboarding_docs",
        "test_package_layout",
    ),
    "project": (
        "test_generated_projects",
        "test_dependency_bounds",
        "test_growth",
        "test_update",
        "test_upgrade_paths",
        "test_first_change",
    ),
    "image": (
        "test_image",
        "test_image_rebuilds",
        "test_production",
        "test_kubernetes",
        "test_kubernetes_policies",
        "test_observability",
        "test_hostile_clients",
        "test_worker",
        "test_docs_browser",
        "test_auth_provider",
        "test_dev_container",
    ),
}
KEYS = list(FULL_RUNS)
# The full-run combinations whose Python has a base image here: all of them with the official
# images (TEMPLATE_BASE_IMAGES unset) and with scripts/build-base-images' (3.12 where pyenv has it).
IMAGE_KEYS = [
    key for key in KEYS if not base_images() or FULL_RUNS[key]["python_version"] in base_images()
]


def image_params(keys: Iterable[str]) -> list[object]:
    """Fixture params for the `image` fixture, limited to these FULL_RUNS keys."""
    wanted = set(keys)
    return [p for p in full_run_params() if p.values[0] in wanted]  # type: ignore[attr-defined]


def image_keys_with(database: str) -> list[str]:
    return [key for key in IMAGE_KEYS if FULL_RUNS[key]["database"] == database]


def full_run_params() -> list[Any]:
    """FULL_RUNS keys as fixture params, grouped so that pytest-xdist sends every test of one
    combination (full run and image) to the same worker, which then bakes it once."""
    return [pytest.param(key, marks=pytest.mark.xdist_group(key)) for key in FULL_RUNS]
