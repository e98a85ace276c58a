"""Local build artefacts, pure functions without Pulumi: the build context's hash and the trainer sdist."""
