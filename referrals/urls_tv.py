"""The public TV leaderboard's secret link (included by referrals.urls)."""

from django.urls import path

from . import views_tv

urlpatterns = [
    path("tv/<str:token>/", views_tv.tv_page, name="tv"),
    path("tv/<str:token>/board/", views_tv.tv_board, name="tv_board"),
]
