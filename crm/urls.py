from django.urls import path
from django.views.generic import RedirectView

from crm import views

app_name = "crm"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="crm:account_list"), name="home"),
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/new/", views.account_create, name="account_create"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/edit/", views.account_edit, name="account_edit"),
    path("accounts/<int:pk>/timeline/", views.account_timeline, name="account_timeline"),
    path("accounts/<int:pk>/activities/", views.activity_log, name="activity_log"),
    path("accounts/<int:pk>/contacts/new/", views.contact_create, name="contact_create"),
    path("accounts/<int:pk>/team/add/", views.team_add, name="team_add"),
    path("accounts/<int:pk>/reassign/", views.account_reassign, name="account_reassign"),
    path("accounts/<int:pk>/deals/new/", views.deal_create, name="deal_create"),
    path("activities/<int:pk>/", views.activity_detail, name="activity_detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/left/", views.contact_left, name="contact_left"),
    path("team/<int:pk>/end/", views.team_end, name="team_end"),
    path("deals/pipeline/", views.pipeline, name="pipeline"),
    path("deals/<int:pk>/", views.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/edit/", views.deal_edit, name="deal_edit"),
    path("deals/<int:pk>/move/", views.deal_move, name="deal_move"),
    path("deals/<int:pk>/win/", views.deal_win, name="deal_win"),
    path("deals/<int:pk>/lose/", views.deal_lose, name="deal_lose"),
    path("reassign/book/", views.book_reassign, name="book_reassign"),
    path("users/", views.user_list, name="user_list"),
    path("users/<int:pk>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("profile/", views.profile, name="profile"),
]
