"""Code that Pulumi runs in the provider process (dynamic resources) and the Google REST client it uses."""
