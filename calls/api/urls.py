from __future__ import annotations

from django.urls import path

from calls.api import live, views

urlpatterns = [
    path("api/call/outbound", views.OutboundCallView.as_view(), name="api-call-outbound"),
    path("call/start", views.StartFunnelCallView.as_view(), name="call-start"),
    path("api/call/<str:sid>/status", views.CallStatusView.as_view(), name="api-call-status"),
    path("api/call/<str:sid>/hangup", live.CallHangupView.as_view(), name="api-call-hangup"),
    path("api/call/<str:sid>/transfer", live.CallTransferView.as_view(), name="api-call-transfer"),
    path("api/calls/active", views.ActiveCallsView.as_view(), name="api-calls-active"),
    path("api/calls/<str:sid>", views.CallDetailView.as_view(), name="api-call-detail"),
]
