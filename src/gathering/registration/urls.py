from django.urls import path

from gathering.registration import staff_views, views

app_name = "registration"

urlpatterns = [
    path("<int:year>/register/", views.CategoryListView.as_view(), name="category-list"),
    path(
        "<int:year>/register/sent/", views.RegistrationSentView.as_view(), name="registration-sent"
    ),
    path("<int:year>/register/lost-link/", views.LinkResendView.as_view(), name="link-resend"),
    path(
        "<int:year>/register/<slug:slug>/",
        views.RegistrationCreateView.as_view(),
        name="registration-create",
    ),
    path(
        "<int:year>/delegations/new/",
        views.DelegationCreateView.as_view(),
        name="delegation-create",
    ),
    path(
        "<int:year>/delegations/join/<str:token>/",
        views.DelegationJoinView.as_view(),
        name="delegation-join",
    ),
    # Private pages: the token is the only key to them.
    path(
        "registration/<str:token>/",
        views.RegistrationManageView.as_view(),
        name="registration-manage",
    ),
    path(
        "registration/<str:token>/confirm/",
        views.RegistrationConfirmView.as_view(),
        name="registration-confirm",
    ),
    path("registration/<str:token>/accept/", views.OfferAcceptView.as_view(), name="offer-accept"),
    path(
        "registration/<str:token>/cancel/",
        views.RegistrationCancelView.as_view(),
        name="registration-cancel",
    ),
    path(
        "registration/<str:token>/erase/",
        views.RegistrationEraseView.as_view(),
        name="registration-erase",
    ),
    path(
        "registration/<str:token>/data.json",
        views.RegistrationExportView.as_view(),
        name="registration-export",
    ),
    path(
        "registration/<str:token>/ticket/", views.TicketDetailView.as_view(), name="ticket-detail"
    ),
    path("registration/<str:token>/ticket.pdf", views.TicketPdfView.as_view(), name="ticket-pdf"),
    path(
        "registration/<str:token>/delegation/",
        views.DelegationManageView.as_view(),
        name="delegation-manage",
    ),
    # Staff: the registration desk (one person at a time) and the press officer.
    path("staff/desk/", staff_views.DeskView.as_view(), name="desk"),
    path(
        "staff/desk/<int:pk>/",
        staff_views.DeskRegistrationView.as_view(),
        name="desk-registration",
    ),
    path("staff/press/", staff_views.PressListView.as_view(), name="press-list"),
    path(
        "staff/press/<int:pk>/",
        staff_views.PressRegistrationView.as_view(),
        name="press-registration",
    ),
    path(
        "staff/press/<int:pk>/badge.pdf",
        staff_views.PressBadgeView.as_view(),
        name="press-badge",
    ),
]
