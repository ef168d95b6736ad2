from django.urls import URLPattern, URLResolver

app_name = "voices"

urlpatterns: list[URLPattern | URLResolver] = []
