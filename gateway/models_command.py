"""CLI: ``gateway models`` — the catalogue as routed from a region, optionally checked against
what the region offers (the control-plane listings, as the running gateway's discovery)."""

from __future__ import annotations

import argparse
import os
import sys

import orjson

from gateway.errors import DiscoveryError
from gateway.providers.aws_config import policy_region
from gateway.providers.discovery import fetch_offer
from gateway.routing.loader import load_policy
from gateway.routing.models_table import (
    catalogue_rows,
    discovered_rows,
    render_rows,
    rows_to_json,
)
from gateway.routing.offer import Offer, not_offered
from gateway.routing.policy import RESIDENCIES, PolicyError


def run_models(args: argparse.Namespace) -> int:
    path = args.policies or os.environ.get("GATEWAY_POLICIES") or "policies"
    region = args.region or policy_region()
    try:
        policy = load_policy(path, region=region)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    offer: Offer | None = None
    problem = ""
    if args.discover:
        try:
            offer = fetch_offer(region, args.timeout)
        except DiscoveryError as exc:
            problem = exc.message
    reasons = not_offered(policy.models, offer, region) if offer is not None else {}
    rows = catalogue_rows(policy, reasons)
    if offer is not None:
        rows += discovered_rows(policy, offer)
    rank = policy.defaults.residency_rank
    if args.json:
        document = {
            "region": region,
            "residency": RESIDENCIES[rank],
            "discovered_at": offer.taken_at if offer is not None else None,
            "models": rows_to_json(rows),
        }
        print(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    else:
        print(render_rows(rows, region, rank))
    if problem:
        print(f"error: discovery in {region} failed: {problem}", file=sys.stderr)
        return 1
    return 0
