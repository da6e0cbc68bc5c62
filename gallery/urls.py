from django.urls import path

from . import views

app_name = "gallery"
urlpatterns = [
    path("", views.home, name="home"),
    path("rooms/<slug:slug>/", views.room, name="room"),
    path("artworks/<int:pk>/", views.artwork, name="artwork"),
    path("exhibits/", views.exhibits, name="exhibits"),
    path("exhibits/<int:pk>/", views.exhibit, name="exhibit"),
]
