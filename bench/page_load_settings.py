"""Settings for bench/page_load.py: the production settings (from the
environment the bench sets) with the bench URLconf in front of the museum's."""

from museum.settings import *  # noqa: F403

ROOT_URLCONF = "page_load_urls"
