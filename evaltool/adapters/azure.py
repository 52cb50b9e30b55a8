"""Azure OpenAI: OpenAI's chat completions served from a deployment of an Azure resource.

The model's --base-url is the resource's endpoint, https://RESOURCE.openai.azure.com, and
its --model-id the deployment's name; a deployment's own URL (as the portal shows it, even
with /chat/completions and ?api-version=) works as well, and then names the deployment. The
api-version is the model's config key `api_version` (models add/update --api-version), else
the base URL's, else DEFAULT_API_VERSION. The key comes from $AZURE_OPENAI_API_KEY (or the
variable the config's api_key_env names) and goes in the api-key header; with a header
Authorization: Bearer ${VAR} (a Microsoft Entra ID token) none is needed.
"""

import os
from typing import Any
from urllib.parse import quote

from yarl import URL

from evaltool.adapters import chat
from evaltool.adapters.openai import ChatCompletions
from evaltool.errors import EvaltoolError

# The latest generally available api-version of the data plane inference API
DEFAULT_API_VERSION = "2024-10-21"


class AzureAdapter(ChatCompletions):
    """POST {resource}/openai/deployments/{deployment}/chat/completions?api-version=V."""

    def __init__(self, snapshot: dict[str, Any], params: dict[str, Any]) -> None:
        config = snapshot.get("config") or {}
        base_url = config.get("base_url")
        if not base_url:
            raise EvaltoolError(
                f"Azure OpenAI model {snapshot['name']} has no base URL: give it the "
                "resource's endpoint, evaltool models update "
                f"{snapshot['name']} --base-url https://RESOURCE.openai.azure.com"
            )
        key_env = config.get("api_key_env") or "AZURE_OPENAI_API_KEY"
        headers = chat.headers(config)
        given = {name.lower() for name in headers}
        key = os.environ.get(key_env)
        if not given & {"api-key", "authorization"}:
            if not key:
                raise EvaltoolError(
                    f"${key_env} is not set: Azure OpenAI needs a key (or a header "
                    "'Authorization: Bearer ${VAR}' with a Microsoft Entra ID token)"
                )
            headers["api-key"] = key
        super().__init__(
            snapshot,
            params,
            url=deployment_url(base_url, snapshot["model_id"], config.get("api_version")),
            headers=headers,
            key_env=key_env,
            model=None,  # the deployment is the model
        )


def deployment_url(base_url: str, deployment: str, api_version: str | None) -> str:
    """The deployment's URL, with its api-version, from the resource's endpoint (or the
    deployment's own URL, /chat/completions and all) and the deployment's name."""
    url = URL(base_url)
    path = url.raw_path.rstrip("/").removesuffix("/chat/completions")
    if "/openai/deployments/" not in path:
        if not path.endswith("/openai"):
            path += "/openai"
        path += "/deployments/" + quote(deployment, safe="")
    version = api_version or url.query.get("api-version") or DEFAULT_API_VERSION
    query = {**url.query, "api-version": version}
    return str(url.with_path(path, encoded=True).with_query(query))
