from .models import PointsAccount


def open_points_account(sender, instance, created, **kwargs) -> None:
    """Every patient gets a points account when they are created (joined, invited or imported)."""
    if created:
        PointsAccount.objects.get_or_create(patient=instance)
