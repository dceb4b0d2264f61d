from django.urls import path

from handover.views import handovers, promises, work_lists

app_name = "handover"
urlpatterns = [
    path("deals/<int:pk>/promises/", promises.deal_promises, name="deal_promises"),
    path("deals/<int:pk>/promises/new/", promises.promise_record, name="promise_record"),
    path("promises/<int:pk>/edit/", promises.promise_edit, name="promise_edit"),
    path("promises/<int:pk>/review/", promises.promise_review, name="promise_review"),
    path("promises/<int:pk>/reset/", promises.promise_reset, name="promise_reset"),
    path("promises/<int:pk>/withdraw/", promises.promise_withdraw, name="promise_withdraw"),
    path("handovers/", work_lists.my_handovers, name="my_handovers"),
    path("handovers/review/", work_lists.review_queue, name="review_queue"),
    path("handovers/inbox/", work_lists.inbox, name="inbox"),
    path("handovers/<int:pk>/", handovers.handover_detail, name="handover_detail"),
    path("handovers/<int:pk>/summary/", handovers.handover_summary, name="handover_summary"),
    path("handovers/<int:pk>/save/", handovers.handover_save, name="handover_save"),
    path("handovers/<int:pk>/submit/", handovers.handover_submit, name="handover_submit"),
    path("handovers/<int:pk>/approve/", handovers.handover_approve, name="handover_approve"),
    path("handovers/<int:pk>/return/", handovers.handover_return, name="handover_return"),
    path("handovers/<int:pk>/accept/", handovers.handover_accept, name="handover_accept"),
    path("handovers/<int:pk>/reject/", handovers.handover_reject, name="handover_reject"),
]
