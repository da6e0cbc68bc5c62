"""S3 media storage whose URLs go through the permission-checked media view.

The bucket is private; ``url()`` names ``MEDIA_URL + name``, the view in
``museum.media``, which reads the file with the site's credentials and
answers according to the state of the row that shows it.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage


class ViewServedS3Storage(S3Storage):
    def url(self, name: str, parameters=None, expire=None, http_method=None) -> str:
        return settings.MEDIA_URL + filepath_to_uri(name)
