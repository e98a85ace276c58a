"""Stacks deployed before providers/ existed keep working: their state names the old provider path."""

import base64
import pickletools
from pathlib import Path

import dill
from pulumi.dynamic.dynamic import serialize_provider

from providers.vertex_job import CustomJobProvider

# The `__provider` value a stack deployed before the move stored (pulumi's serialize_provider of
# components.custom_job.CustomJobProvider, captured from that code).
OLD_STATE_PROVIDER = (Path(__file__).parent / "data" / "custom_job_provider_components_path.b64").read_text().strip()


def test_the_stored_value_names_the_old_module():
    opcodes = [arg for _, arg, _ in pickletools.genops(base64.b64decode(OLD_STATE_PROVIDER))]
    assert "components.custom_job" in opcodes and "CustomJobProvider" in opcodes


def test_an_old_state_unpickles_to_the_current_provider():
    # What pulumi's dynamic provider host does with the state's __provider (pulumi/dynamic/__main__.py).
    provider = dill.loads(base64.b64decode(OLD_STATE_PROVIDER))
    assert isinstance(provider, CustomJobProvider)
    assert provider.check({}, {}).failures, "the unpickled provider runs the current checks"


def test_new_states_name_the_providers_package():
    opcodes = [arg for _, arg, _ in pickletools.genops(base64.b64decode(serialize_provider(CustomJobProvider())))]
    assert "providers.vertex_job" in opcodes and "components.custom_job" not in opcodes
