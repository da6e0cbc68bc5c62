"""Admin-side pages of the scraper, mounted under /admin/scraper/review/ in museum/urls.py."""

from django.contrib import admin
from django.urls import path

from scraper import views

app_name = "scraper"

urlpatterns = [
    path("", admin.site.admin_view(views.review), name="review"),
]
