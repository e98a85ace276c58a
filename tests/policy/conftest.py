"""The pack's modules import each other as top-level modules, as they do when Pulumi runs the pack."""

import sys

from tools.render import ROOT

sys.path.insert(0, str(ROOT / "policy"))
