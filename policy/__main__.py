"""The policy pack: `pulumi preview --policy-pack policy` (and `pulumi up`) run this file.

Only the pack is built here; the policies live in policies.py so tests import them without
starting the policy server.
"""

import os
import sys

from pulumi_policy import EnforcementLevel, PolicyPack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from policies import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    policies=list(POLICIES.values()),
    enforcement_level=EnforcementLevel.MANDATORY,
)
