from django.urls import path
from django.views.generic import RedirectView

from crm.views import accounts, activities, archive, contacts, deals, merging, people, reassignment, team

app_name = "crm"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="crm:account_list"), name="home"),
    path("accounts/", accounts.account_list, name="account_list"),
    path("accounts/export.csv", accounts.account_export, name="account_export"),
    path("accounts/new/", accounts.account_create, name="account_create"),
    path("accounts/<int:pk>/", accounts.account_detail, name="account_detail"),
    path("accounts/<int:pk>/edit/", accounts.account_edit, name="account_edit"),
    path("accounts/<int:pk>/timeline/", accounts.account_timeline, name="account_timeline"),
    path("accounts/<int:pk>/activities/", activities.activity_log, name="activity_log"),
    path("accounts/<int:pk>/contacts/new/", contacts.contact_create, name="contact_create"),
    path("accounts/<int:pk>/team/add/", team.team_add, name="team_add"),
    path("accounts/<int:pk>/reassign/", reassignment.account_reassign, name="account_reassign"),
    path("accounts/<int:pk>/merge/", merging.account_merge, name="account_merge"),
    path("accounts/<int:pk>/archive/", archive.account_archive, name="account_archive"),
    path("accounts/<int:pk>/restore/", archive.account_restore, name="account_restore"),
    path("accounts/<int:pk>/deals/new/", deals.deal_create, name="deal_create"),
    path("activities/<int:pk>/", activities.activity_detail, name="activity_detail"),
    path("contacts/<int:pk>/edit/", contacts.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/left/", contacts.contact_left, name="contact_left"),
    path("contacts/<int:pk>/merge/", merging.contact_merge, name="contact_merge"),
    path("contacts/<int:pk>/archive/", archive.contact_archive, name="contact_archive"),
    path("contacts/<int:pk>/restore/", archive.contact_restore, name="contact_restore"),
    path("team/<int:pk>/end/", team.team_end, name="team_end"),
    path("deals/pipeline/", deals.pipeline, name="pipeline"),
    path("deals/<int:pk>/", deals.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/edit/", deals.deal_edit, name="deal_edit"),
    path("deals/<int:pk>/move/", deals.deal_move, name="deal_move"),
    path("deals/<int:pk>/win/", deals.deal_win, name="deal_win"),
    path("deals/<int:pk>/lose/", deals.deal_lose, name="deal_lose"),
    path("deals/<int:pk>/reopen/", deals.deal_reopen, name="deal_reopen"),
    path("reassign/book/", reassignment.book_reassign, name="book_reassign"),
    path("users/", people.user_list, name="user_list"),
    path("users/<int:pk>/deactivate/", people.user_deactivate, name="user_deactivate"),
    path("profile/", people.profile, name="profile"),
]
