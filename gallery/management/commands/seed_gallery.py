"""Fill the museum with placeholder paintings so its pages can be walked and tested."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gallery.models import Artwork, Genre, MixingExhibit
from gallery.placeholders import placeholder_exhibit, placeholder_painting
from gallery.thumbnails import save_artwork_image


class Command(BaseCommand):
    help = "Create placeholder (fixture) artworks in every room and one mixing exhibit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--per-room", type=int, default=12, help="artworks per room (default 12)")
        parser.add_argument("--size", type=int, default=256, help="painting size in pixels (default 256)")
        parser.add_argument("--rows", type=int, default=3, help="exhibit sources A (default 3)")
        parser.add_argument("--columns", type=int, default=4, help="exhibit sources B (default 4)")
        parser.add_argument("--no-exhibit", action="store_true", help="skip the mixing exhibit")
        parser.add_argument("--unpublished", action="store_true", help="leave everything unpublished")

    def handle(self, *args: object, **options: object) -> None:
        per_room, size = int(options["per_room"]), int(options["size"])
        if per_room < 0 or not 16 <= size <= 2048:
            raise CommandError("--per-room must be 0 or more and --size between 16 and 2048.")
        genres = list(Genre.objects.all())
        if not genres:
            raise CommandError("There are no rooms (genres): run `manage.py migrate` first.")
        published = not options["unpublished"]
        now = timezone.now()
        made = 0
        for genre in genres:
            first_seed = Artwork.objects.filter(genre=genre).count()
            for i in range(per_room):
                seed = first_seed + i
                artwork = Artwork(
                    genre=genre,
                    title=f"Fixture study no. {seed + 1}",
                    seed=seed,
                    psi=0.7,
                    published=published,
                    created=now - timedelta(minutes=per_room - i),
                )
                save_artwork_image(artwork, placeholder_painting(seed, genre.slug, size))
                made += 1
        self.stdout.write(f"Created {made} fixture artworks in {len(genres)} rooms.")
        if not options["no_exhibit"]:
            exhibit = self.make_exhibit(
                genres[0], int(options["rows"]), int(options["columns"]), size, published
            )
            self.stdout.write(f"Created fixture mixing exhibit {exhibit.pk} in {genres[0].display_name}.")

    def make_exhibit(
        self, genre: Genre, rows: int, columns: int, size: int, published: bool
    ) -> MixingExhibit:
        if not (1 <= rows <= 8 and 1 <= columns <= 8):
            raise CommandError("--rows and --columns must be between 1 and 8.")
        return placeholder_exhibit(genre, rows, columns, size, published)
