from django.urls import path

from handover import views

app_name = "handover"
urlpatterns = [
    path("deals/<int:pk>/promises/", views.deal_promises, name="deal_promises"),
    path("deals/<int:pk>/promises/new/", views.promise_record, name="promise_record"),
    path("promises/<int:pk>/edit/", views.promise_edit, name="promise_edit"),
    path("promises/<int:pk>/review/", views.promise_review, name="promise_review"),
    path("promises/<int:pk>/reset/", views.promise_reset, name="promise_reset"),
    path("promises/<int:pk>/withdraw/", views.promise_withdraw, name="promise_withdraw"),
    path("handovers/", views.my_handovers, name="my_handovers"),
    path("handovers/review/", views.review_queue, name="review_queue"),
    path("handovers/inbox/", views.inbox, name="inbox"),
    path("handovers/<int:pk>/", views.handover_detail, name="handover_detail"),
    path("handovers/<int:pk>/summary/", views.handover_summary, name="handover_summary"),
    path("handovers/<int:pk>/save/", views.handover_save, name="handover_save"),
    path("handovers/<int:pk>/submit/", views.handover_submit, name="handover_submit"),
    path("handovers/<int:pk>/approve/", views.handover_approve, name="handover_approve"),
    path("handovers/<int:pk>/return/", views.handover_return, name="handover_return"),
    path("handovers/<int:pk>/accept/", views.handover_accept, name="handover_accept"),
    path("handovers/<int:pk>/reject/", views.handover_reject, name="handover_reject"),
]
