"""Where the Google APIs live. Tests point these at a loopback fake; nothing reads them from the
environment, so a stray variable can never send a user's token elsewhere."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Google's registry hosts (Artifact Registry LOCATION-docker.pkg.dev, Container Registry [REGION.]gcr.io): the
# only registries the doctor asks, since every request carries the user's Google token.
GOOGLE_REGISTRY_HOST = re.compile(r"^(?:[a-z0-9]+(?:-[a-z0-9]+)*-docker\.pkg\.dev|(?:[a-z]+\.)?gcr\.io)$")


@dataclass(frozen=True)
class Endpoints:
    # Root URLs, as the discovery documents' rootUrl (the API's service path follows).
    cloudresourcemanager: str = "https://cloudresourcemanager.googleapis.com"
    cloudbilling: str = "https://cloudbilling.googleapis.com"
    serviceusage: str = "https://serviceusage.googleapis.com"
    compute: str = "https://compute.googleapis.com"
    storage: str = "https://storage.googleapis.com"
    # A Docker registry (Artifact Registry host such as europe-docker.pkg.dev), by host name.
    registry: str = "https://{host}"

    def registry_for(self, host: str) -> str:
        return self.registry.format(host=host)


PRODUCTION = Endpoints()
