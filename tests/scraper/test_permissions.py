"""Who may do what, through real requests: anonymous, a staff member with no
group, a curator, and staff."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from scraper.ingest import ingest_image
from scraper.models import CrawlJob, ScrapedImage
from tests.scraper.factories import make_item, make_job, make_user, painting_bytes


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def image(db) -> ScrapedImage:
    job = make_job()
    return ScrapedImage.objects.get(pk=ingest_image(job.pk, make_item("1"), painting_bytes(1)).image_id)


def login(client, username: str, group: str | None):
    client.force_login(make_user(username, group))
    return client


PAGES = {
    "queue": lambda image: reverse("admin:scraper_scrapedimage_changelist"),
    "image": lambda image: reverse("admin:scraper_scrapedimage_change", args=[image.pk]),
    "review": lambda image: reverse("scraper:review"),
    "crawls": lambda image: reverse("admin:scraper_crawljob_changelist"),
    "start crawl": lambda image: reverse("admin:scraper_crawljob_add"),
    "crawl": lambda image: reverse("admin:scraper_crawljob_change", args=[image.job_id]),
}
EXPECTED = {
    # page: (no group, curator, staff)
    "queue": (403, 200, 200),
    "image": (403, 200, 200),
    "review": (403, 200, 200),
    "crawls": (403, 403, 200),
    "start crawl": (403, 403, 200),
    "crawl": (403, 403, 200),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_anonymous_visitors_are_sent_to_the_login_page(client, image, page):
    response = client.get(PAGES[page](image))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize(("who", "group"), [(0, None), (1, "Curators"), (2, "Staff")])
def test_each_page_checks_its_permission(client, image, page, who, group):
    login(client, f"user{who}", group)
    assert client.get(PAGES[page](image)).status_code == EXPECTED[page][who]


def test_curators_see_the_queue_but_neither_crawls_nor_training_in_the_admin(client, image):
    login(client, "carla", "Curators")
    index = client.get(reverse("admin:index")).content.decode()
    assert "Scraped images" in index
    assert "Crawl jobs" not in index
    assert "Training runs" not in index
    assert client.get("/admin/training/trainingrun/").status_code in (403, 404)


def test_a_curator_cannot_start_or_cancel_a_crawl_by_posting(client, image):
    login(client, "carla", "Curators")
    job = image.job
    job.status = "running"
    job.save()
    response = client.post(
        reverse("admin:scraper_crawljob_add"), {"genre": job.genre_id, "source": "aic", "item_limit": 1}
    )
    assert response.status_code == 403
    assert client.post(reverse("admin:scraper_crawljob_cancel", args=[job.pk])).status_code == 403
    client.post(
        reverse("admin:scraper_crawljob_changelist"),
        {"action": "cancel_selected", "_selected_action": [job.pk]},
    )
    assert CrawlJob.objects.count() == 1
    job.refresh_from_db()
    assert job.status == "running"


def test_a_user_without_the_review_permission_cannot_approve(client, image):
    viewer = make_user("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_scrapedimage"))
    client.force_login(viewer)
    assert client.get(reverse("admin:scraper_scrapedimage_changelist")).status_code == 200
    client.post(
        reverse("admin:scraper_scrapedimage_changelist"),
        {"action": "approve_selected", "_selected_action": [image.pk]},
    )
    response = client.post(reverse("scraper:review"), {"image_id": image.pk, "decision": "approve"})
    assert response.status_code == 403
    image.refresh_from_db()
    assert image.status == "pending"


def test_staff_start_crawls_and_curators_review_with_their_groups(
    client, image, django_capture_on_commit_callbacks
):
    login(client, "sam", "Staff")
    with django_capture_on_commit_callbacks():
        client.post(
            reverse("admin:scraper_crawljob_add"), {"genre": image.genre_id, "source": "cma", "item_limit": 5}
        )
    assert CrawlJob.objects.filter(source="cma", status="queued").exists()

    login(client, "carla", "Curators")
    response = client.post(reverse("scraper:review"), {"image_id": image.pk, "decision": "approve"})
    assert response.status_code == 302
    image.refresh_from_db()
    assert image.status == "approved"
