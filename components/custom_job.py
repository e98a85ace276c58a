"""Compatibility path for Pulumi states written before the `providers/` package existed.

A dynamic resource's provider is stored in the state as a pickled reference to its class; stacks
deployed earlier name `components.custom_job.CustomJobProvider`. Refresh, update and destroy of
those jobs unpickle that reference, so it must keep resolving. New code imports `providers.vertex_job`.
"""

from providers.vertex_job import CustomJob, CustomJobArgs, CustomJobProvider

__all__ = ["CustomJob", "CustomJobArgs", "CustomJobProvider"]
