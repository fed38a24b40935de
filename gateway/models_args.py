"""CLI: the arguments of ``gateway models`` alone, so that building the command line (as
``serve`` does) does not import the command, its table and the control-plane client."""

from __future__ import annotations

from typing import Any


def add_models_parser(sub: Any) -> None:
    models = sub.add_parser(
        "models",
        help="the catalogue for a region: ids, profiles, tiers, prices, features, status",
    )
    models.add_argument("--policies", help="policy file or folder (GATEWAY_POLICIES)")
    models.add_argument("--region", help="AWS region (default: AWS_REGION, the profile's)")
    models.add_argument(
        "--discover",
        action="store_true",
        help="ask the region what it offers (ListFoundationModels, ListInferenceProfiles)",
    )
    models.add_argument("--timeout", type=float, default=10.0, help="seconds per listing call")
    models.add_argument("--json", action="store_true", help="JSON instead of a text table")
