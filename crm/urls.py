from django.urls import path
from django.views.generic import RedirectView

app_name = "crm"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="crm:account_list"), name="home"),
    path("accounts/", RedirectView.as_view(url="/admin/"), name="account_list"),
]
