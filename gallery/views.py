from django.shortcuts import render

from .models import Genre


def home(request):
    return render(request, "gallery/home.html", {"genres": Genre.objects.all()})
