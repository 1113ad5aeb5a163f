"""Share links and patient pages of the referral program (included by referrals.urls)."""

urlpatterns: list = []
