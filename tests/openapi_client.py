"""A Flask test client that checks every response of the documented API against
`/openapi.json` (openapi-core: status, content type, headers and body schema)."""

from __future__ import annotations

from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from web.openapi import load_document

DOCUMENTED_PREFIXES = ("/api/", "/livez", "/readyz", "/healthz", "/openapi.json", "/oembed")

OPENAPI = OpenAPI.from_dict(load_document())


class _AnsweredRequest(WerkzeugOpenAPIRequest):
    """The request as openapi-core needs it to find the operation; the app has read the
    body already, and what is checked here is the response."""

    @property
    def body(self) -> None:
        return None


class OpenAPIClient(FlaskClient):
    checked: list[tuple[str, str, int]] = []  # (method, path, status) of every checked response

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        request = response.request
        if request.path.startswith(DOCUMENTED_PREFIXES):
            # Raises with the schema error when the response is not what the document says.
            OPENAPI.validate_response(_AnsweredRequest(request), WerkzeugOpenAPIResponse(response))
            OpenAPIClient.checked.append((request.method, request.path, response.status_code))
        return response
