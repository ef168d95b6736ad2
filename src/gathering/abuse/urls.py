from django.urls import URLPattern, URLResolver

app_name = "abuse"

urlpatterns: list[URLPattern | URLResolver] = []
