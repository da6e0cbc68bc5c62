"""``manage.py demo``: fill the museum offline, through the real pipeline.

1. migrate; create an admin user if there is none (the login is printed);
2. start the sample museum (synthetic paintings in the AIC API's shape) in a thread;
3. crawl it once per genre (source "sample": the AIC spider, as the sample
   museum speaks the AIC API, with the real pipeline and ingest
   through ``scraper.services.run_job`` in a crawl process), mark the images
   as demo images and approve them (reviewer: the admin user);
4. paint every room: register the shipped demo checkpoint of each genre
   (training/demo/<genre>-<px>.pt, the largest size shipped) as a published checkpoint and generate
   artworks and mixing exhibits with ``gallery.generation``; a genre without a
   shipped checkpoint gets a tiny model trained here first;
5. queue a short real training run that staff can watch in the admin.

Running it again reuses what exists: crawled images (by content hash),
registered checkpoints (by SHA-256), artworks and exhibits already painted, and
the watchable run. A shipped file that has changed since (a newer model) takes
its room from the shipped model this command hung there before, whose paintings
leave the walls; a checkpoint staff published keeps its room. See docs/demo.md.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from gallery.models import Artwork, Genre, MixingExhibit
from scraper.models import CrawlJob, ScrapedImage, Source
from scraper.outcomes import outcome_label
from training.models import Checkpoint, GenerationSchedule, TrainingRun

DEMO_CHECKPOINT_DIR = Path(settings.BASE_DIR) / "training" / "demo"
# Marks the runs this command registers for shipped checkpoints (they were
# trained elsewhere, by the commands in docs/demo.md, not by a worker here).
SHIPPED_WORKER = "shipped demo checkpoint"
LOGIN_FILE = "demo-admin-login.txt"
# The watchable run: small enough to finish on a laptop CPU in minutes.
WATCH_PRESET = "cpu"
# Crawled images per genre left pending, so a curator has a real queue after `make run`.
DEFAULT_LEAVE_PENDING = 8
# How each room's artworks and exhibits are painted: (psi, truncation cutoff). Truncating every
# style collapses these small models (docs/demo.md: the portraits 30 % near duplicates at psi 0.6
# against 1 % at 1), so most rooms are painted untruncated. The portraits truncate only their coarse
# styles (the first 4 ws, 4-8 px: pose and the head's outline) halfway to the average: at psi 1 one
# portrait in six is an empty canvas or a pale ghost of a head; so truncated, 72 of 72 seeds are
# heads, and the room still passes its quality report (SWD 1.7-1.8x its floor, precision 0.72-0.77,
# recall 0.42-0.44 on three fake sets; figures in docs/demo.md).
DEMO_TRUNCATION: dict[str, tuple[float, int | None]] = {"portrait": (0.5, 4)}
UNTRUNCATED = (1.0, None)


def shipped_checkpoint(folder: Path, genre: Genre) -> Path | None:
    """The room's shipped model, ``<slug>-<px>.pt``: the largest size in ``folder`` (the 128-px GPU
    models replace the 64-px CPU ones by being copied beside them), or None when there is none."""
    sizes = {}
    for path in folder.glob(f"{genre.slug}-*.pt"):
        size = path.stem.removeprefix(f"{genre.slug}-")
        # Only the genre's own files: "portrait-64.pt", not "portrait-64-old.pt" or another slug's.
        if size.isdecimal() and path.is_file():
            sizes[int(size)] = path
    return sizes[max(sizes)] if sizes else None


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for child processes started inside the block, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Command(BaseCommand):
    help = (
        "Fill the museum offline: crawl the sample museum, approve, paint every room, queue a run to watch."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--per-genre", type=int, default=48, help="paintings to crawl per genre (default 48)"
        )
        parser.add_argument("--artworks", type=int, default=24, help="artworks per room (default 24)")
        parser.add_argument("--exhibits", type=int, default=2, help="mixing exhibits per room (default 2)")
        parser.add_argument(
            "--image-size", type=int, default=256, help="size of the sample museum's paintings (default 256)"
        )
        parser.add_argument(
            "--no-watch-run", action="store_true", help="do not queue the short training run to watch"
        )
        parser.add_argument(
            "--leave-pending",
            type=int,
            default=DEFAULT_LEAVE_PENDING,
            help=(
                f"crawled images per genre left in the curation queue for a curator to review "
                f"(default {DEFAULT_LEAVE_PENDING}; fewer when a genre would keep too few approved "
                "images to train on)"
            ),
        )
        parser.add_argument("--no-migrate", action="store_true", help="expect migrations to be applied")
        parser.add_argument(
            "--checkpoints",
            type=Path,
            default=DEMO_CHECKPOINT_DIR,
            help=(
                f"folder of shipped <genre>-<px>.pt checkpoints, the largest size of each genre used "
                f"(default {DEMO_CHECKPOINT_DIR})"
            ),
        )
        parser.add_argument(
            "--fallback-preset",
            default="cpu",
            help="training preset for a genre without a shipped checkpoint (default cpu)",
        )

    def handle(self, *args, **options) -> None:
        for name in ("per_genre", "artworks", "exhibits", "leave_pending"):
            if options[name] < (1 if name == "per_genre" else 0):
                raise CommandError(f"--{name.replace('_', '-')} {options[name]} is too small.")
        if not options["no_migrate"]:
            self.step("Migrating the database")
            call_command("migrate", interactive=False, verbosity=0)
        genres = list(Genre.objects.order_by("position", "slug"))
        if not genres:
            raise CommandError("There are no genres (rooms): run `manage.py migrate` to seed the four rooms.")
        admin, login = self.admin_user()

        self.crawl_sample_museum(
            genres, admin, options["per_genre"], options["image_size"], options["leave_pending"]
        )
        for genre in genres:
            checkpoint = self.room_checkpoint(
                genre, admin, options["checkpoints"], options["fallback_preset"]
            )
            self.paint_room(genre, checkpoint, options["artworks"], options["exhibits"])
        if not options["no_watch_run"]:
            self.queue_watch_run(genres, admin)

        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("The demo museum is ready."))
        self.stdout.write(f"  Admin login: {login}")
        self.stdout.write("  Start the site and workers with `make run` (or `python -m museum.localrun`).")

    # -- output ---------------------------------------------------------------------------------

    def step(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {text}"))

    def note(self, text: str) -> None:
        self.stdout.write(f"    {text}")

    # -- 1. the admin user ----------------------------------------------------------------------

    def admin_user(self) -> tuple[AbstractBaseUser, str]:
        """The first superuser, created if there is none; returns it and a line describing the login."""
        self.step("Admin user")
        User = get_user_model()
        existing = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        login_file = Path(settings.DATA_DIR) / LOGIN_FILE
        if existing is not None:
            saved = login_file.read_text().strip() if login_file.is_file() else ""
            if saved.startswith(f"{existing.get_username()} "):
                login = saved
            else:
                login = (
                    f"{existing.get_username()} (password unchanged; "
                    f"reset it with `manage.py changepassword {existing.get_username()}`)"
                )
            self.note(f"using the existing admin {existing.get_username()}")
            return existing, login
        username = os.environ.get("DEMO_ADMIN_USER", "admin")
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        login = f"{username} / {password}"
        # Kept beside the database (never in the repository) so a second run can print it again.
        login_file.write_text(login + "\n")
        login_file.chmod(0o600)
        self.note(f"created the admin user {username} (login saved in {login_file})")
        return user, login

    # -- 2 and 3. the crawl ---------------------------------------------------------------------

    def crawl_sample_museum(
        self, genres: list[Genre], reviewer: AbstractBaseUser, per_genre: int, image_size: int, leave: int
    ) -> None:
        from scraper.curation import approve_images
        from scraper.samplemuseum.server import start_sample_museum
        from scraper.services import run_job

        crawled = CrawlJob.objects.filter(
            source=Source.SAMPLE, status=CrawlJob.Status.SUCCEEDED, images__is_demo=True
        ).values_list("genre_id", flat=True)
        done = set(crawled)
        todo = [g for g in genres if g.pk not in done]
        self.step("Crawling the sample museum (synthetic paintings, offline)")
        for genre in genres:
            if genre not in todo:
                count = ScrapedImage.objects.filter(genre=genre, is_demo=True).count()
                self.note(f"{genre.slug}: already crawled ({count} demo images)")
        if todo:
            server, base_url = start_sample_museum(per_genre=per_genre, image_size=image_size)
            crawl_log = settings.LOG_FILE or Path(settings.DATA_DIR) / "logs" / "demo-crawl.log"
            # Its address is a free port of this command's own, gone when it ends: not worth naming.
            self.note(f"a sample museum for this crawl only (synthetic paintings); crawl log: {crawl_log}")
            # The crawl runs in its own process and reads these from its environment.
            # The sample source may reach its own loopback origin, and nothing else private.
            crawl_env = {
                "SCRAPER_SAMPLE_URL": base_url,
                "SCRAPER_DOWNLOAD_DELAY": "0",
                "SCRAPER_CONCURRENCY": "4",
                "SCRAPER_AUTOTHROTTLE": "0",
                # The progress bar says how the crawl goes; the crawl's own log goes to a file.
                "AAG_LOG_FILE": str(crawl_log),
            }
            try:
                with environment(crawl_env):
                    for genre in todo:
                        self.crawl_genre(genre, per_genre, run_job)
            finally:
                server.stop()
        approved = left = 0
        for genre in genres:
            demo = ScrapedImage.objects.filter(genre=genre, is_demo=True)
            # In the museum's own order, not the crawl's: the crawler stores images
            # as their downloads finish, so an order by pk would approve a different
            # collection each run, and the rooms a collection guards would differ.
            pending = list(
                demo.filter(status=ScrapedImage.Status.PENDING)
                .order_by("source", "source_id", "pk")
                .values_list("pk", flat=True)
            )
            # Leave the last few for a curator, but never so many that the
            # genre has too few approved images for its room's training run.
            spare = demo.count() - settings.TRAINING_MIN_IMAGES
            keep = max(0, min(leave, spare, len(pending)))
            approved += approve_images(pending[: len(pending) - keep], reviewer)
            left += demo.filter(status=ScrapedImage.Status.PENDING).count()
        self.note(
            f"approved {approved} demo images (reviewer: {reviewer.get_username()}); "
            f"{left} left in the curation queue for a curator to review"
        )

    def crawl_genre(self, genre: Genre, per_genre: int, run_job) -> None:
        from scraper.services import start_crawl

        # This command is the crawl worker here: it runs the job itself, in a crawl process.
        job = start_crawl(genre, Source.SAMPLE, None, item_limit=per_genre, send=False)
        bar = tqdm(total=per_genre, unit="img", desc=f"    crawl {genre.slug}", file=sys.stderr, leave=True)

        def on_progress(counts: dict) -> None:
            bar.update(sum(n for key, n in counts.items() if ":" not in key) - bar.n)

        try:
            finished = run_job(job.pk, on_progress=on_progress)
        finally:
            bar.close()
        if finished is None or finished.status != CrawlJob.Status.SUCCEEDED:
            status = finished.status if finished else "not started"
            raise CommandError(
                f"The demo crawl of {genre.slug} (crawl job {job.pk}) {status}: "
                f"{finished.error if finished else ''}\n{finished.log_tail if finished else ''}\n"
                "See the crawl job in the admin; run `manage.py demo` again once it is fixed."
            )
        # Every image this job found, new or already known, belongs to the demo set.
        marked = ScrapedImage.objects.filter(job=job).update(is_demo=True)
        counts = ", ".join(f"{outcome_label(k)} {n}" for k, n in sorted(finished.counts.items()))
        self.note(f"{genre.slug}: crawl job {job.pk} succeeded ({counts}); {marked} new demo images")

    # -- 4. the rooms ---------------------------------------------------------------------------

    def room_checkpoint(
        self, genre: Genre, admin: AbstractBaseUser, folder: Path, fallback_preset: str
    ) -> Checkpoint:
        from gallery.services import publish_checkpoint, published_checkpoint

        self.step(f"Room {genre.slug}: checkpoint")
        path = shipped_checkpoint(folder, genre)
        if path is not None:
            checkpoint = self.register_shipped(genre, path)
            hanging = published_checkpoint(genre)
            if hanging is not None and hanging.pk != checkpoint.pk and self.hung_by_demo(hanging):
                # An earlier shipped model that this command hung, not one staff chose: a newer shipped
                # file (a pull that brought a better model) takes its room, as on a fresh clone.
                self.replace(genre, hanging, checkpoint, path)
                return checkpoint
            if not checkpoint.published and hanging is None:
                publish_checkpoint(checkpoint)
                checkpoint.refresh_from_db()
                self.note("published it")
            elif hanging is not None and hanging.pk != checkpoint.pk:
                # Staff chose what hangs: a newer shipped file does not take the room from it.
                self.note(
                    f"the room keeps its published checkpoint {hanging.pk}; publish checkpoint "
                    f"{checkpoint.pk} in the admin to hang {path.name} instead"
                )
            return hanging or checkpoint
        existing = published_checkpoint(genre)
        if existing is not None:
            self.note(f"using published checkpoint {existing.pk}")
            return existing
        return self.train_tiny_model(genre, admin, folder, fallback_preset)

    @staticmethod
    def hung_by_demo(checkpoint: Checkpoint) -> bool:
        """Whether ``checkpoint`` is a shipped model this command published (no one in the admin did)."""
        return checkpoint.run.worker == SHIPPED_WORKER and checkpoint.published_by_id is None

    def replace(self, genre: Genre, hanging: Checkpoint, checkpoint: Checkpoint, path: Path) -> None:
        """Hang ``checkpoint`` (the shipped ``path``) in place of ``hanging``, in one transaction: the old
        model's paintings and exhibits leave the walls (kept, republishable in the admin), and the new one's
        come back if it hung here before (a file swapped back); ``paint_room`` tops the room up."""
        from gallery.services import publish_checkpoint

        with transaction.atomic():
            gone = self.show(genre, hanging, False)
            publish_checkpoint(checkpoint)
            back = self.show(genre, checkpoint, True)
        checkpoint.refresh_from_db()
        self.note(
            f"{path.name} replaces checkpoint {hanging.pk} ({hanging.kimg:.0f} kimg, an earlier shipped model): "
            f"its {gone[0]} artworks and {gone[1]} mixing exhibits are taken off show (kept in the admin)"
            + (f"; {back[0]} artworks and {back[1]} exhibits of {path.name} hang again" if any(back) else "")
        )

    @staticmethod
    def show(genre: Genre, checkpoint: Checkpoint, shown: bool) -> tuple[int, int]:
        """Put the room's paintings and exhibits by ``checkpoint`` on or off show; a withheld painting
        (a copy of a training image) never goes on show. Returns how many artworks and exhibits changed."""
        artworks = Artwork.objects.filter(genre=genre, checkpoint=checkpoint, published=not shown)
        if shown:
            artworks = artworks.filter(withheld_reason="")
        exhibits = MixingExhibit.objects.filter(genre=genre, checkpoint=checkpoint, published=not shown)
        return artworks.update(published=shown), exhibits.update(published=shown)

    def register_shipped(self, genre: Genre, path: Path) -> Checkpoint:
        """A succeeded run and a checkpoint row for a shipped file (found again by its SHA-256)."""
        from training.services import register_trained_checkpoint

        checkpoint, created = register_trained_checkpoint(genre, path, worker=SHIPPED_WORKER)
        if not created:
            self.note(f"shipped checkpoint {path.name} already registered (checkpoint {checkpoint.pk})")
            return checkpoint
        self.note(
            f"registered the shipped checkpoint {path.name} ({checkpoint.kimg:.0f} kimg) as run "
            f"{checkpoint.run_id}, checkpoint {checkpoint.pk}"
        )
        return checkpoint

    def train_tiny_model(
        self, genre: Genre, admin: AbstractBaseUser, folder: Path, preset: str
    ) -> Checkpoint:
        """No shipped checkpoint: train a tiny model here, in this process, through the real run machinery."""
        from gallery.services import publish_checkpoint
        from training.runner import train_claimed_run
        from training.services import start_run

        self.note(f"no {genre.slug}-<px>.pt in {folder}: training a tiny model here (preset {preset!r})")
        try:
            run = start_run(genre, preset=preset, user=admin)
        except ValidationError as exc:
            raise CommandError(f"Could not start a training run for {genre.slug}: {exc.messages[0]}") from exc
        outcome = train_claimed_run(run.pk, worker="manage.py demo")
        run.refresh_from_db()
        checkpoint = run.checkpoints.order_by("-kimg").first()
        if run.status != TrainingRun.Status.SUCCEEDED or checkpoint is None:
            raise CommandError(
                f"Training run {run.pk} for {genre.slug} ended {outcome} ({run.status}): {run.error}\n"
                "See the run in the admin; run `manage.py demo` again once it is fixed."
            )
        publish_checkpoint(checkpoint)
        checkpoint.refresh_from_db()
        self.note(
            f"trained run {run.pk} to {run.kimg_done:.1f} kimg and published checkpoint {checkpoint.pk}"
        )
        return checkpoint

    def paint_room(self, genre: Genre, checkpoint: Checkpoint, artworks: int, exhibits: int) -> None:
        from gallery.generation import NotEnoughDistinctPaintings, build_mixing_exhibit, generate_artworks

        psi, cutoff = DEMO_TRUNCATION.get(genre.slug, UNTRUNCATED)
        have = Artwork.objects.filter(checkpoint=checkpoint).count()
        if have < artworks:
            # The room's refresh schedule (made by publishing) paints as the demo does, and its next
            # batch is due a full period after this one: not minutes after `make run`, at its default ψ.
            GenerationSchedule.objects.filter(genre=genre).update(
                psi=psi, truncation_cutoff=cutoff, last_queued=timezone.now()
            )
            try:
                generate_artworks(checkpoint, artworks - have, psi=psi, truncation_cutoff=cutoff)
            except NotEnoughDistinctPaintings as exc:
                # The room guards refused the rest: the room hangs what is distinct.
                self.stdout.write(self.style.WARNING(f"    {exc}"))
        have_exhibits = MixingExhibit.objects.filter(checkpoint=checkpoint).count()
        for _ in range(exhibits - have_exhibits):
            build_mixing_exhibit(checkpoint, rows=3, columns=4, psi=psi, truncation_cutoff=cutoff)
        self.note(
            f"{Artwork.objects.filter(genre=genre, published=True).count()} artworks and "
            f"{MixingExhibit.objects.filter(genre=genre, published=True).count()} mixing exhibits on show"
        )

    # -- 5. a run to watch ----------------------------------------------------------------------

    def queue_watch_run(self, genres: list[Genre], admin: AbstractBaseUser) -> None:
        from training.services import start_run

        self.step("A short training run to watch")
        genre = next((g for g in genres if g.slug == "landscape"), genres[0])
        earlier = (
            TrainingRun.objects.filter(genre=genre).exclude(worker=SHIPPED_WORKER).order_by("-pk").first()
        )
        if earlier is not None:
            self.note(f"run {earlier.pk} ({genre.slug}, {earlier.status}) already exists: see the admin")
            return
        try:
            run = start_run(genre, preset=WATCH_PRESET, user=admin)
        except ValidationError as exc:
            # The museum is ready without it; say why there is nothing to watch.
            self.stdout.write(
                self.style.WARNING(f"    no training run queued for {genre.slug}: {exc.messages[0]}")
            )
            return
        self.note(
            f"queued run {run.pk} ({genre.slug}, preset {WATCH_PRESET!r}, {run.target_kimg:g} kimg): "
            "a worker trains it once the site is running; watch it under Training runs in the admin"
        )
