"""JSON answers that cannot fail on what is stored.

Text saved before lone surrogates were refused (or written by the store's own code) would
make the encoder fail and the answer a 500; here it comes out with U+FFFD instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import JSONRenderer

from ..validators import first_surrogate, scrub_surrogates


class SafeJSONRenderer(JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if first_surrogate(data):
            data = scrub_surrogates(data)
        return super().render(data, accepted_media_type, renderer_context)
