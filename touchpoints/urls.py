from django.urls import path

from touchpoints import customer_views, views

app_name = "touchpoints"
urlpatterns = [
    # Staff pages
    path("my-week/", views.my_week, name="my_week"),
    path("my-week/export.csv", views.my_week_export, name="my_week_export"),
    path("team-calendar/", views.team_calendar, name="team_calendar"),
    path("team-calendar/export.csv", views.team_calendar_export, name="team_calendar_export"),
    path("touchpoints/<int:pk>/complete/", views.touchpoint_complete, name="touchpoint_complete"),
    path("touchpoints/<int:pk>/skip/", views.touchpoint_skip, name="touchpoint_skip"),
    path("touchpoints/<int:pk>/cancel/", views.touchpoint_cancel, name="touchpoint_cancel"),
    path("touchpoints/<int:pk>/reschedule/", views.touchpoint_reschedule, name="touchpoint_reschedule"),
    path("calendar/", views.calendar_settings, name="calendar_settings"),
    # The private feed: the token is the credential (calendar apps cannot log in).
    path("calendar/<str:token>.ics", customer_views.user_feed, name="user_feed"),
    # Customer pages (no login: a link in the session)
    path("c/survey/open/<str:token>/", customer_views.survey_open, name="survey_open"),
    path("c/survey/<int:pk>/", customer_views.survey, name="survey"),
    path("c/portal/<int:pk>/agenda.ics", customer_views.portal_agenda_ics, name="portal_agenda_ics"),
]
