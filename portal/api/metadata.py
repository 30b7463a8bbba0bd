"""What OPTIONS answers, as JSON: the endpoint's name and description, what it reads and renders, and
(in the Allow header) its methods. Request bodies are described per method in /api/v1/schema/.

DRF's SimpleMetadata also lists the fields of PUT and POST, guessed from `serializer_class` after a
`get_object()` for PUT. Neither holds in this API: `serializer_class` is what an endpoint answers, not
what it reads (ordering a server reads ServerCreateSerializer, a rollback RollbackSerializer), and a
list-level action such as servers/{server_id}/backups/policy/ has no `id` to look an object up by,
so its OPTIONS answered 500 (KeyError: 'id').
"""

from rest_framework.metadata import SimpleMetadata
from rest_framework.renderers import JSONRenderer


class ApiMetadata(SimpleMetadata):
    def determine_actions(self, request, view):
        return {}


class JsonOptions:
    """For the views that render YAML or HTML (the schema and the docs pages): OPTIONS answers JSON too.

    The docs pages' HTML renderer has no template for it and answered 500.
    """

    metadata_class = ApiMetadata

    def options(self, request, *args, **kwargs):
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().options(request, *args, **kwargs)
