from django.urls import URLPattern, URLResolver, path

from gathering.abuse import views

app_name = "abuse"

urlpatterns: list[URLPattern | URLResolver] = [
    path("abuse/altcha/challenge", views.AltchaChallengeView.as_view(), name="altcha-challenge"),
]
